"""Retraining requested from the model page: the ``ml`` group run in a background process, followed on the page.

``request_retraining`` (data scientists only) checks that no run holds the home, writes the audit row, and starts
``python -m orchestration.defs.ml.retraining`` detached from the app; that process runs
``orchestration.runner.run_model_pipeline`` on the home's persistent Dagster instance under a run ID chosen here,
so the run shows in ``make dagster`` and the page follows it by that ID (``retraining_progress``). What happens
before the Dagster run exists (the lock taken by another run meanwhile, a missing warehouse) is written to
``$KODOMO_HOME/retraining/<run id>.json`` for the page to say.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from kodomo.appdata.access import require_role
from kodomo.appdata.accounts import Account
from kodomo.operational import DATA_SCIENTIST, AccessEntry, log_access
from kodomo.settings import Settings, get_settings
from orchestration.lifecycle import RunRecord, RunRefused

REQUEST_RETRAINING = "request_retraining"  # the audit action
ORIGIN_TAG, REQUESTED_BY_TAG = "kodomo/origin", "kodomo/requested_by"
MODEL_PAGE = "model_page"
# Dagster's run statuses as the page groups them.
FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}
REFUSED, FAILED, STARTING = "REFUSED", "FAILED_TO_START", "STARTING"


@dataclass(frozen=True)
class RetrainingProgress:
    """Where a requested run is: Dagster's run status (or ``STARTING``, ``REFUSED``, ``FAILED_TO_START`` before the
    run exists), its steps in order with their status, and the reason of a refusal or failure."""
    run_id: str
    status: str
    steps: tuple[tuple[str, str], ...] = ()
    message: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED or self.status in (REFUSED, FAILED)


def outcome_path(settings: Settings, run_id: str) -> Path:
    return settings.home / "retraining" / f"{run_id}.json"


def log_path(settings: Settings, run_id: str) -> Path:
    return settings.home / "retraining" / f"{run_id}.log"


def refuse_if_running(settings: Settings) -> None:
    """``RunRefused`` naming the holder when a run holds the home's lock (``orchestration.lifecycle``)."""
    if not settings.run_lock_path.is_file():
        return
    with open(settings.run_lock_path, encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = RunRecord.read(lock.read())
            who = f"pid {holder.pid}" if holder else "another process"
            raise RunRefused(f"another kodomo run is using {settings.home} ({who}); wait for it to end") from None
        fcntl.flock(lock, fcntl.LOCK_UN)


def request_retraining(engine: Engine, user: Account, settings: Settings) -> str:
    """Start retraining in the background for a data scientist; the Dagster run ID to follow it by.

    Refused (``RunRefused``) while another run holds the home. The audit row is written before the process starts.
    """
    from orchestration.runner import dagster_instance

    require_role(user, DATA_SCIENTIST)
    refuse_if_running(settings)
    # The instance's storage is created here, before the run's process and this page open it together: SQLite
    # storage created by two processes at once fails (``table ... already exists``).
    with dagster_instance(settings):
        pass
    run_id = str(uuid.uuid4())
    log_access(engine, AccessEntry(user.user_id, user.role, REQUEST_RETRAINING, user.agency_id,
                                   detail=f"dagster run {run_id}"))
    log = log_path(settings, run_id)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w", encoding="utf-8") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "orchestration.defs.ml.retraining", "--home", str(settings.home),
             "--run-id", run_id, "--requested-by", user.user_id],
            stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True)  # its own process group: the run's lock recovery may end it, the app's Ctrl-C not
    # Reaped when it ends, so that a long-lived app server keeps no zombie per retraining.
    threading.Thread(target=process.wait, daemon=True).start()
    return run_id


def retraining_progress(settings: Settings, run_id: str) -> RetrainingProgress:
    """The run's status and steps from the home's Dagster instance; before it exists, what its process said."""
    said = _read_outcome(settings, run_id)
    # The instance as the run's process configured it (``orchestration.runner.prepare_dagster_home``): a reader
    # never rewrites its configuration under the run.
    if (settings.dagster_home / "dagster.yaml").is_file():
        import dagster as dg

        with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
            run = instance.get_run_by_id(run_id)
            if run is not None:
                stats = sorted(instance.get_run_step_stats(run_id), key=lambda s: s.start_time or 0)
                steps = tuple((s.step_key, s.status.value if s.status else "STARTED") for s in stats)
                return RetrainingProgress(run_id, run.status.value, steps, said and said["message"])
    if said is not None:
        return RetrainingProgress(run_id, said["status"], (), said["message"])
    return RetrainingProgress(run_id, STARTING)


def _read_outcome(settings: Settings, run_id: str) -> dict | None:
    path = outcome_path(settings, run_id)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _write_outcome(settings: Settings, run_id: str, status: str, message: str) -> None:
    path = outcome_path(settings, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"status": status, "message": message}, ensure_ascii=False), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """The background process: run the ``ml`` group under the given run ID; a refusal or failure is written down."""
    from orchestration.runner import run_model_pipeline

    parser = argparse.ArgumentParser(prog="python -m orchestration.defs.ml.retraining")
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--requested-by", required=True)
    args = parser.parse_args(argv)
    settings = get_settings().at_home(args.home)
    try:
        run_model_pipeline(settings, run_id=args.run_id,
                           tags={ORIGIN_TAG: MODEL_PAGE, REQUESTED_BY_TAG: args.requested_by})
    except RunRefused as exc:
        _write_outcome(settings, args.run_id, REFUSED, str(exc))
        return 1
    except Exception as exc:  # noqa: BLE001 - whatever stopped the run, the page must be able to say it
        _write_outcome(settings, args.run_id, FAILED, f"{type(exc).__name__}: {exc}")
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
