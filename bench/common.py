"""What every benchmark shares: its arguments, a cached generated landing, and a measured child process."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kodomo.settings import get_settings
from kodomo.synthetic.scales import SCALES

# The pipeline's ingestion group, in a child process that prints its own peak RSS (KiB) last.
INGEST = (
    "from pathlib import Path; import resource, sys; import dagster as dg;"
    "from kodomo.settings import get_settings; from orchestration.runner import run_pipeline;"
    "run_pipeline(get_settings(), Path(sys.argv[1]), dg.AssetSelection.groups('ingestion'));"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)
SAMPLE_INTERVAL_S = 0.2
PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def parse_arguments(description: str, extra: list[tuple[str, str]] = (),
                    one_scale: bool = True) -> tuple[argparse.Namespace, Path]:
    """``--scale`` (unless not ``one_scale``), ``--seed``, ``--workdir`` (default ``$KODOMO_HOME/bench``) and
    ``extra`` (option, default) text options; and the resolved work folder."""
    parser = argparse.ArgumentParser(description=description)
    for option, default in extra:
        parser.add_argument(option, default=default)
    if one_scale:
        parser.add_argument("--scale", default="prefecture", choices=tuple(SCALES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=str(get_settings().home / "bench"))
    args = parser.parse_args()
    return args, Path(args.workdir).resolve()


def generation_record(landing: Path) -> Path:
    """Where ``ensure_landing`` keeps the generator's measurement, beside the landing and its truth."""
    return landing.parent / f"{landing.name}-generate.json"


def ensure_landing(workdir: Path, scale: str, seed: int) -> Path:
    """Generate the landing once; later runs of any benchmark reuse it. The generation's wall time and the peak
    RSS of its process tree are kept in ``generation_record(landing)``."""
    landing = workdir / f"{scale}-{seed}"
    if not (landing / "agencies.csv").is_file():
        generated = measure_tree([sys.executable, "-m", "kodomo.cli", "generate", "--out", str(landing),
                                  "--scale", scale, "--seed", str(seed)], stdout=sys.stderr)  # stdout: the JSON
        generated.check()
        generation_record(landing).write_text(json.dumps(
            {"wall_s": round(generated.wall_s, 1), "peak_rss_mib": round(generated.peak_rss_mib),
             "ru_maxrss_mib": round(generated.ru_maxrss_mib)}), encoding="utf-8")
    return landing


def measured_child(code: str, *args: str, env: dict | None = None) -> tuple[float, float]:
    """Run ``python -c code args`` and return (wall seconds, peak RSS MiB).

    ``code`` must print its own ``ru_maxrss`` last, so that the generator's or the parent's memory
    is not counted.
    """
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], check=True, env=env, stdout=subprocess.PIPE, text=True)
    return time.perf_counter() - started, int(done.stdout.split()[-1]) / 1024


@dataclass(frozen=True)
class TreeMeasurement:
    """A child process measured with its descendants: ``samples`` are (epoch seconds, KiB summed over the tree).

    ``ru_maxrss_mib`` is the kernel's figure (``wait4``): the largest single process of the tree, not their sum.
    """
    command: list[str]
    returncode: int
    started: float
    wall_s: float
    samples: list[tuple[float, int]]
    ru_maxrss_mib: float

    @property
    def peak_rss_mib(self) -> float:
        return max((kib for _, kib in self.samples), default=0) / 1024

    def peak_between_mib(self, start: float, end: float) -> float:
        """The tree's peak while [start, end] ran; a span shorter than the sampling interval gets the next sample."""
        inside = [kib for t, kib in self.samples if start <= t <= end]
        if not inside:
            inside = [kib for t, kib in self.samples if t >= start][:1]
        return max(inside, default=0) / 1024

    def check(self) -> None:
        if self.returncode != 0:
            raise subprocess.CalledProcessError(self.returncode, self.command)


def measure_tree(command: list[str], env: dict | None = None, stdout=None) -> TreeMeasurement:
    """Run ``command`` and sample the RSS of its whole process tree (dbt, a JVM, forked workers) every
    ``SAMPLE_INTERVAL_S`` from /proc until it exits."""
    samples: list[tuple[float, int]] = []
    started = time.time()
    process = subprocess.Popen(command, env=env, stdout=stdout)
    done = threading.Event()

    def sample() -> None:
        while not done.wait(SAMPLE_INTERVAL_S):
            samples.append((time.time(), tree_rss_kib(process.pid)))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # wait4 rather than Popen.wait: it also gives the child's resource usage.
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.time() - started
    done.set()
    sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    return TreeMeasurement(command, process.returncode, started, wall, samples, usage.ru_maxrss / 1024)


def tree_rss_kib(root: int) -> int:
    """The resident memory of ``root`` and all its descendants, summed (shared pages count once per process).

    Read from ``/proc/<pid>/stat`` (field 24, the same counter as ``VmRSS``), which also gives each parent.
    """
    parent, rss = {}, {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        pid = int(entry.name)
        parent[pid], rss[pid] = int(fields[1]), int(fields[21]) * PAGE_KIB
    children: dict[int, list[int]] = {}
    for pid, ppid in parent.items():
        children.setdefault(ppid, []).append(pid)
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        total += rss.get(pid, 0)
        pending.extend(children.get(pid, ()))
    return total
