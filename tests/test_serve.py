"""``make serve`` (issue 14): the services a prefecture runs, against PostgreSQL, started, checked, crashed, stopped.

One test drives the real processes: the supervisor starts the Dagster webserver and daemon, MLflow and the app;
each answers its health check; a delivery dropped into the landing is picked up by the sensor and published by
one platform run; a crashed service is started again; SIGTERM stops everything, and nothing stays behind.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from kodomo.cli import main as kodomo
from kodomo.settings import get_settings
from orchestration.defs.operations.automation import LANDING_TAG, PLATFORM_JOB, landing_fingerprint
from orchestration.runner import dagster_instance
from orchestration.serve import SERVICES, health, pid_path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait(condition, timeout: float, what: str, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _processes() -> list[tuple[int, str, int, int]]:
    """(pid, state, parent, process group) of every process, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        found.append((int(stat.parent.name), fields[0], int(fields[1]), int(fields[2])))
    return found


def _children(pid: int) -> set[int]:
    return {child for child, state, parent, _ in _processes() if parent == pid and state != "Z"}


def _group_members(groups: set[int]) -> set[int]:
    return {member for member, state, _, group in _processes() if group in groups and state != "Z"}


def _service_pid(supervisor: int, name: str) -> int | None:
    """The supervisor's child that runs ``name`` (its command line names the service's program); None: none now."""
    program = {"app": "streamlit", "mlflow": "mlflow", "dagster-webserver": "dagster-webserver",
               "dagster-daemon": "dagster-daemon"}[name]
    for pid in _children(supervisor):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(program.encode()) for part in command[:2]):
            return pid
    return None


@pytest.fixture
def served(tmp_path, monkeypatch, scratch_postgres_url):
    """The services of a production home on a scratch database, with an empty landing; stopped afterwards."""
    env = {"KODOMO_ENV": "production", "KODOMO_HOME": str(tmp_path / "home"), "KODOMO_LANDING": str(tmp_path / "landing"),
           "KODOMO_POSTGRES_URL": scratch_postgres_url, "KODOMO_SECRET": "s" * 40, "KODOMO_SENSOR_SECONDS": "3",
           "KODOMO_DAGSTER_PORT": str(_free_port()), "KODOMO_MLFLOW_PORT": str(_free_port()),
           "KODOMO_APP_PORT": str(_free_port())}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "landing").mkdir()
    process = subprocess.Popen([sys.executable, "-m", "orchestration.serve"], cwd=ROOT, env={**os.environ, **env},
                               stdout=open(tmp_path / "serve.out", "wb"), stderr=subprocess.STDOUT)
    try:
        yield process, get_settings(), tmp_path
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_services_start_run_a_delivery_recover_a_crash_and_stop(served):
    process, settings, root = served
    _wait(lambda: all(health(settings).values()), 300, "every service to be healthy", every=3)
    assert pid_path(settings).read_text() == str(process.pid)

    # A delivery lands: the sensor asks for one platform run, which publishes the warehouse.
    assert kodomo(["generate", "--out", str(root / "generated"), "--scale", "small", "--seed", "2"]) == 0
    shutil.copytree(root / "generated", settings.landing, dirs_exist_ok=True)
    fingerprint = landing_fingerprint(settings.landing)

    def finished_runs():
        with dagster_instance(settings) as instance:
            runs = instance.get_runs(dg.RunsFilter(job_name=PLATFORM_JOB))
        return [r for r in runs if r.is_finished] or None

    [run] = _wait(finished_runs, 900, "the sensor's platform run to finish", every=5)
    assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags[LANDING_TAG] == fingerprint
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("select count(*) from marts.child").fetchone()[0] > 0
    time.sleep(3 * settings.sensor_seconds)  # the same landing asks for no second run
    with dagster_instance(settings) as instance:
        assert len(instance.get_runs(dg.RunsFilter(job_name=PLATFORM_JOB))) == 1

    # A crashed service is started again.
    crashed = _service_pid(process.pid, "app")
    assert crashed is not None
    os.kill(crashed, signal.SIGKILL)
    _wait(lambda: _service_pid(process.pid, "app") not in (None, crashed) and health(settings)["app"], 120,
          "the app to be started again", every=2)

    # SIGTERM stops every service; nothing is left running and the pid file is gone.
    children = _children(process.pid)
    assert len(children) == len(SERVICES)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=90) == 0
    assert not _group_members(children)  # the services and what they started (Dagster's code servers) are gone
    assert not pid_path(settings).exists()
    for service in SERVICES:
        assert (settings.logs_dir / f"{service.name}.log").stat().st_size > 0



def test_the_landing_sensor_asks_once_per_delivery_and_not_again_for_a_failed_one(tmp_path, monkeypatch):
    from orchestration.defs.operations.automation import automation, platform_run, published_fingerprint_path

    monkeypatch.setenv("KODOMO_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KODOMO_LANDING", str(tmp_path / "landing"))
    monkeypatch.setenv("KODOMO_SENSOR_SECONDS", "1")
    settings = get_settings()
    _, sensor = automation(settings)
    (tmp_path / "landing").mkdir()
    with dg.DagsterInstance.ephemeral() as instance:
        def evaluate():
            return sensor.evaluate_tick(dg.build_sensor_context(instance=instance))

        assert "no agencies.csv" in evaluate().skip_message
        (tmp_path / "landing" / "agencies.csv").write_text("agency_id\n", encoding="utf-8")
        assert "still arriving" in evaluate().skip_message
        time.sleep(settings.sensor_seconds)
        [request] = evaluate().run_requests
        assert request.tags[LANDING_TAG] == landing_fingerprint(settings.landing)

        # The requested run, just created: under way, so no second request.
        run = instance.create_run_for_job(platform_run, tags=request.tags)
        assert evaluate().skip_message == "a platform run is under way"
        # It failed: its delivery is not asked for again within the hour (a broken delivery does not loop).
        instance.report_run_failed(run, "test")
        assert "failed" in evaluate().skip_message
        # A published delivery is not asked for again; a changed landing is.
        published_fingerprint_path(settings).parent.mkdir(parents=True)
        published_fingerprint_path(settings).write_text(request.tags[LANDING_TAG], encoding="utf-8")
        assert "no new delivery" in evaluate().skip_message
        (tmp_path / "landing" / "agencies.csv").write_text("agency_id\nx\n", encoding="utf-8")
        time.sleep(settings.sensor_seconds)
        assert evaluate().run_requests
