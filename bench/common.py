"""What every benchmark shares: its arguments, a cached generated landing, and a measured child process."""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from kodomo.settings import get_settings

# The pipeline's ingestion group, in a child process that prints its own peak RSS (KiB) last.
INGEST = (
    "from pathlib import Path; import resource, sys; import dagster as dg;"
    "from kodomo.settings import get_settings; from orchestration.runner import run_pipeline;"
    "run_pipeline(get_settings(), Path(sys.argv[1]), dg.AssetSelection.groups('ingestion'));"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
)


def parse_arguments(description: str, extra: list[tuple[str, str]] = ()) -> tuple[argparse.Namespace, Path]:
    """``--scale``, ``--seed``, ``--workdir`` (default ``$KODOMO_HOME/bench``) and ``extra`` (option, default)
    text options; and the resolved work folder."""
    parser = argparse.ArgumentParser(description=description)
    for option, default in extra:
        parser.add_argument(option, default=default)
    parser.add_argument("--scale", default="prefecture", choices=("small", "prefecture", "national"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", default=str(get_settings().home / "bench"))
    args = parser.parse_args()
    return args, Path(args.workdir).resolve()


def ensure_landing(workdir: Path, scale: str, seed: int) -> Path:
    """Generate the landing once; later runs of any benchmark reuse it."""
    landing = workdir / f"{scale}-{seed}"
    if not (landing / "agencies.csv").is_file():
        subprocess.run([sys.executable, "-m", "kodomo.cli", "generate", "--out", str(landing), "--scale", scale,
                        "--seed", str(seed)], check=True, stdout=sys.stderr)  # stdout stays for the JSON
    return landing


def measured_child(code: str, *args: str, env: dict | None = None) -> tuple[float, float]:
    """Run ``python -c code args`` and return (wall seconds, peak RSS MiB).

    ``code`` must print its own ``ru_maxrss`` last, so that the generator's or the parent's memory
    is not counted.
    """
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, *args], check=True, env=env, stdout=subprocess.PIPE, text=True)
    return time.perf_counter() - started, int(done.stdout.split()[-1]) / 1024
