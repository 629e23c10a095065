"""A run's life: one at a time, built beside the published state, published in one step, cleaned up after.

- **Lock.** ``$KODOMO_HOME/run.lock`` is held (``flock``) for the whole run and records the run's process and
  process group. A second run on the same home refuses at once. The kernel drops the lock when the run's
  process ends, however it ends; the record stays only if the run could not clean up (it was killed).
- **Build.** The run writes into ``$KODOMO_HOME/build/``: the warehouse, ``reports/ingest.json`` and
  ``linkage/model.json``, laid out as in the home. Nothing published is touched while the run works.
- **Publish.** When every step has succeeded, the build's warehouse is checkpointed into its one file, a marker
  listing the built files is written, and each file is renamed over its published path (the warehouse last).
  A reader opens either the previous state or the new one, never half of one: it never waits for the run and
  the run never waits for it (a rename does not need DuckDB's lock).
- **Recover.** A run that finds the record of a killed one ends that run's process group (its dbt child),
  marks its Dagster runs failed and its MLflow runs ``FAILED``; then it finishes a publication that had
  written its marker, or deletes the half-made build.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

from kodomo.linkage.pipeline import MODEL_FILE
from kodomo.settings import Settings

PUBLISHED_MARKER = "PUBLISHING"
#: Tag on the Dagster runs of ``kodomo run``: only those are ours to mark failed after a kill.
RUN_TAG = "kodomo/run"


class RunRefused(Exception):
    """Another run holds the home: the one-line reason."""


@dataclass(frozen=True)
class RunRecord:
    pid: int
    pgid: int
    started: float  # epoch seconds: processes of the group that started earlier are not the run's

    @classmethod
    def read(cls, text: str) -> RunRecord | None:
        try:
            return cls(**json.loads(text))
        except (ValueError, TypeError):
            return None


def published_files(settings: Settings) -> list[Path]:
    """The published state, in publication order: the warehouse last (a reader of it sees a whole new state)."""
    return [settings.ingest_report_path, settings.linkage_dir / MODEL_FILE, settings.warehouse_path]


@contextlib.contextmanager
def exclusive_run(settings: Settings) -> Iterator[None]:
    """Hold the home for one run: refuse if another holds it, clean up after a killed one, and after this one."""
    settings.home.mkdir(parents=True, exist_ok=True)
    with open(settings.run_lock_path, "a+", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = RunRecord.read(lock.read())
            who = f"pid {holder.pid}, started {dt.datetime.fromtimestamp(holder.started):%Y-%m-%d %H:%M:%S}" \
                if holder else "another process"
            raise RunRefused(f"another kodomo run is using {settings.home} ({who}); wait for it to end") from None
        lock.seek(0)
        killed = RunRecord.read(lock.read())
        if killed is not None:
            recover_killed_run(settings, killed)
        finish_or_discard_build(settings)
        with _own_process_group() as pgid:
            _write(lock, json.dumps(asdict(RunRecord(os.getpid(), pgid, time.time()))))
            try:
                yield
            finally:
                shutil.rmtree(settings.build_dir, ignore_errors=True)
                _write(lock, "")


def run_lock_held(settings: Settings) -> bool:
    """Whether a run holds the home now (a probe: the lock is released at once)."""
    if not settings.run_lock_path.is_file():
        return False
    with open(settings.run_lock_path, "a+", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False


def _write(lock, text: str) -> None:
    lock.seek(0)
    lock.truncate()
    lock.write(text)
    lock.flush()
    os.fsync(lock.fileno())


@contextlib.contextmanager
def _own_process_group() -> Iterator[int]:
    """Lead a process group for the run, so that the run after a killed one can end its children (dbt).

    A process started by a shell already leads one. One started by ``make`` or a test joins a new group for the
    run and goes back after it; if it had the terminal's foreground, the new group takes it, so Ctrl-C still
    reaches the run and its children.
    """
    previous = os.getpgrp()
    if previous == os.getpid():
        yield previous
        return
    terminal = _foreground_terminal(previous)
    os.setpgid(0, 0)
    _give_terminal(terminal, os.getpgrp())
    try:
        yield os.getpgrp()
    finally:
        with contextlib.suppress(OSError):  # the old group ended meanwhile: stay in ours
            os.setpgid(0, previous)
            _give_terminal(terminal, previous)
        if terminal is not None:
            os.close(terminal)


def _foreground_terminal(group: int) -> int | None:
    """The controlling terminal's descriptor if ``group`` is its foreground group."""
    try:
        fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
    except OSError:
        return None
    try:
        if os.tcgetpgrp(fd) == group:
            return fd
    except OSError:
        pass
    os.close(fd)
    return None


def _give_terminal(fd: int | None, group: int) -> None:
    if fd is None:
        return
    # A process outside the foreground group is stopped by SIGTTOU when it hands the terminal over, unless it
    # ignores the signal meanwhile (what shells do).
    handler = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(fd, group)
    finally:
        signal.signal(signal.SIGTTOU, handler)


def recover_killed_run(settings: Settings, killed: RunRecord) -> None:
    """End what a killed run left behind: its processes, its Dagster runs, its MLflow runs."""
    end_process_group(killed)
    fail_stuck_dagster_runs(settings)
    from ml.registry import fail_running_runs  # MLflow takes seconds to import: only after a killed run

    fail_running_runs(settings)


def end_process_group(run: RunRecord, timeout: float = 10.0) -> None:
    """SIGKILL every live process of the run's group that started with or after the run."""
    if run.pgid != run.pid:  # not a group of its own: nothing can be told apart safely
        return
    deadline = time.monotonic() + timeout
    while members := _group_members(run.pgid, run.started):
        for pid in members:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if time.monotonic() > deadline:
            raise RuntimeError(f"processes {sorted(members)} of a killed run do not end")
        time.sleep(0.05)


def _group_members(pgid: int, since: float) -> set[int]:
    """Processes in group ``pgid`` started at or after ``since`` (epoch seconds), from /proc."""
    boot = _boot_time()
    ticks = os.sysconf("SC_CLK_TCK")
    members = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        state, group, start = fields[0], int(fields[2]), int(fields[19])
        # Zombies are already dead; one second of slack for the tick and boot-time rounding.
        if group == pgid and state != "Z" and boot + start / ticks >= since - 1:
            members.add(int(stat.parent.name))
    return members


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime")


def fail_stuck_dagster_runs(settings: Settings) -> None:
    """Mark failed the Dagster runs of ``kodomo run`` still recorded as started (their process is gone)."""
    import dagster as dg

    from orchestration.runner import dagster_instance

    if not (settings.dagster_home / "dagster.yaml").is_file():
        return
    unfinished = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED]
    with dagster_instance(settings) as instance:
        for run in instance.get_runs(dg.RunsFilter(statuses=unfinished, tags={RUN_TAG: "cli"})):
            instance.report_run_failed(run, "the process of this run was killed; marked failed by the next run")


def publish(settings: Settings) -> None:
    """Publish the build: every built file over its published path, the warehouse last."""
    build = settings.at_home(settings.build_dir)
    _checkpoint(build.warehouse_path)
    built = [str(p.relative_to(settings.home)) for p in published_files(settings)
             if (settings.build_dir / p.relative_to(settings.home)).is_file()]
    for relative in built:
        _sync(settings.build_dir / relative)
    marker = settings.build_dir / PUBLISHED_MARKER
    marker.with_suffix(".tmp").write_text(json.dumps(built), encoding="utf-8")
    _sync(marker.with_suffix(".tmp"))
    os.replace(marker.with_suffix(".tmp"), marker)
    _move_into_place(settings)


def finish_or_discard_build(settings: Settings) -> None:
    """A build left by an earlier run: published if it got as far as its marker, deleted otherwise."""
    if (settings.build_dir / PUBLISHED_MARKER).is_file():
        _move_into_place(settings)
    shutil.rmtree(settings.build_dir, ignore_errors=True)


def _move_into_place(settings: Settings) -> None:
    """Rename the files the marker lists over the published ones (again, after a crash: the moved are gone)."""
    built = set(json.loads((settings.build_dir / PUBLISHED_MARKER).read_text(encoding="utf-8")))
    for published in published_files(settings):
        relative = str(published.relative_to(settings.home))
        source = settings.build_dir / relative
        if relative not in built:
            published.unlink(missing_ok=True)  # this state has none (a linkage without a trained model)
        elif source.is_file():
            published.parent.mkdir(parents=True, exist_ok=True)
            if published == settings.warehouse_path:
                # A write-ahead log beside the published file belongs to the file being replaced.
                published.with_name(published.name + ".wal").unlink(missing_ok=True)
            os.replace(source, published)
            _sync(published.parent)
    shutil.rmtree(settings.build_dir, ignore_errors=True)


def _checkpoint(warehouse: Path) -> None:
    """Everything of the built warehouse in its one file (no write-ahead log to move with it)."""
    if warehouse.with_name(warehouse.name + ".wal").exists():
        with duckdb.connect(str(warehouse)) as con:
            con.execute("checkpoint")


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
