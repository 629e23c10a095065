"""``make serve``: what a prefecture's server runs, on this environment's stores (PostgreSQL in production).

Four services, each a child process of this supervisor, each logging to ``$KODOMO_HOME/logs/<service>.log``:

- ``dagster-webserver``: the Dagster UI on ``Settings.dagster_port`` (health: ``/server_info``);
- ``dagster-daemon``: runs the nightly schedule and the landing sensor (``orchestration.defs.operations``);
  healthy while all its daemons send heartbeats;
- ``mlflow``: the tracking server on ``Settings.mlflow_port`` (health: ``/health``);
- ``app``: the Streamlit app on ``Settings.app_port`` (health: ``/_stcore/health``).

A service that exits is started again after a pause that doubles up to a minute (a crash loop does not spin).
``SIGTERM`` or ``SIGINT`` (Ctrl-C, ``python -m orchestration.serve --stop``) stops every service with what it started
(each leads a process group) and waits for them; the services die with the supervisor even if it is killed
(``PR_SET_PDEATHSIG``). Nothing is lost by a crash:
runs and their events are in Dagster's storage, a run killed mid-way is recovered by the next one
(``orchestration.lifecycle``: the build is discarded, the published state stands) and the landing sensor asks
again for the delivery it did not publish; what people enter is committed in the operational store.

``--status`` prints each service's health and exits non-zero when one is not healthy.
"""
from __future__ import annotations

import argparse
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kodomo.settings import Settings, get_settings

log = logging.getLogger("kodomo.serve")
ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
MAX_PAUSE_SECONDS = 60.0
STOP_GRACE_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Service:
    name: str
    command: Callable[[Settings], list[str]]
    health_url: Callable[[Settings], str | None]  # None: judged otherwise (the daemon's heartbeats)


def _bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def _mlflow_command(settings: Settings) -> list[str]:
    from ml.mlflow_ui import server_command

    return server_command(settings, HOST, settings.mlflow_port)


SERVICES = (
    Service("dagster-webserver",
            lambda s: [_bin("dagster-webserver"), "-m", "orchestration.definitions", "-h", HOST, "-p",
                       str(s.dagster_port)],
            lambda s: f"http://{HOST}:{s.dagster_port}/server_info"),
    Service("dagster-daemon", lambda s: [_bin("dagster-daemon"), "run", "-m", "orchestration.definitions"],
            lambda s: None),
    Service("mlflow", _mlflow_command, lambda s: f"http://{HOST}:{s.mlflow_port}/health"),
    Service("app",
            lambda s: [_bin("streamlit"), "run", str(ROOT / "app" / "main.py"), "--server.headless", "true",
                       "--server.address", HOST, "--server.port", str(s.app_port),
                       "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
            lambda s: f"http://{HOST}:{s.app_port}/_stcore/health"),
)


def pid_path(settings: Settings) -> Path:
    return settings.home / "serve.pid"


def _die_with_parent() -> None:
    """In the child, before exec: the kernel sends SIGTERM when the supervisor dies, however it dies."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Running:
    service: Service
    process: subprocess.Popen | None = None
    restarts: int = 0
    start_after: float = 0.0
    pause: float = field(default=1.0)


def _start(running: Running, settings: Settings, env: dict[str, str]) -> None:
    settings.logs_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.logs_dir / f"{running.service.name}.log", "ab") as out:
        # Each service leads a process group, so that stopping it also stops what it started (Dagster's code
        # servers, MLflow's workers).
        running.process = subprocess.Popen(running.service.command(settings), cwd=ROOT, env=env, stdout=out,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           preexec_fn=_die_with_parent, process_group=0)
    log.info("%s started (pid %d)", running.service.name, running.process.pid)


def _prepare(settings: Settings) -> dict[str, str]:
    """Make every store whole before a service opens it; the children's environment."""
    from kodomo import operational
    from ml.registry import connect
    from orchestration.defs.conform.project import prepare_project
    from orchestration.runner import prepare_dagster_home

    settings.app_secret  # production refuses to start without the deployment's secret
    operational.connect(settings).dispose()
    connect(settings)
    prepare_project()
    home = prepare_dagster_home(settings)
    return {**os.environ, "DAGSTER_HOME": str(home)}


def supervise(settings: Settings, services: tuple[Service, ...] = SERVICES) -> int:
    """Run the services until told to stop; restart any that exits."""
    env = _prepare(settings)
    stopping = False

    def stop(signum, _frame) -> None:
        nonlocal stopping
        stopping = True
        log.info("stopping (signal %d)", signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    pid_path(settings).write_text(str(os.getpid()), encoding="utf-8")
    running = [Running(service) for service in services]
    try:
        for each in running:
            _start(each, settings, env)
        while not stopping:
            now = time.monotonic()
            for each in running:
                if each.process is not None and (code := each.process.poll()) is not None:
                    log.warning("%s exited with code %d; starting it again in %.0f s", each.service.name, code,
                                each.pause)
                    each.process, each.start_after = None, now + each.pause
                    each.pause = min(each.pause * 2, MAX_PAUSE_SECONDS)
                    each.restarts += 1
                elif each.process is None and now >= each.start_after:
                    _start(each, settings, env)
            time.sleep(0.5)
    finally:
        _stop_all(running)
        pid_path(settings).unlink(missing_ok=True)
    log.info("stopped")
    return 0


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(process.pid, signum)
    except ProcessLookupError:  # the group has ended
        pass


def _stop_all(running: list[Running]) -> None:
    """SIGTERM to every service's process group; what is left after the grace period is killed."""
    started = [each.process for each in running if each.process is not None]
    for process in started:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for process in started:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for process in started:  # a service's children that outlived it, or a service that would not stop
        _signal_group(process, signal.SIGKILL)
        process.wait()


def stop_running(settings: Settings, timeout: float = STOP_GRACE_SECONDS + 10) -> bool:
    """Ask the running supervisor of this home to stop and wait for it; False when none was running."""
    path = pid_path(settings)
    if not path.is_file():
        return False
    pid = int(path.read_text(encoding="utf-8"))
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        path.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    raise TimeoutError(f"the services (pid {pid}) did not stop within {timeout:.0f} s")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def _daemon_healthy(settings: Settings) -> bool:
    from orchestration.runner import dagster_instance

    with dagster_instance(settings) as instance:
        statuses = instance.get_daemon_statuses()
    return bool(statuses) and all(status.healthy for status in statuses.values())


def health(settings: Settings, services: tuple[Service, ...] = SERVICES) -> dict[str, bool]:
    """Each service's health as its endpoint (or, for the daemon, its heartbeats) says."""
    return {service.name: _http_ok(url) if (url := service.health_url(settings)) else _daemon_healthy(settings)
            for service in services}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.serve", description=__doc__.splitlines()[0])
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--stop", action="store_true", help="stop the services of this home")
    action.add_argument("--status", action="store_true", help="print each service's health")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = get_settings()
    if args.stop:
        print("stopped" if stop_running(settings) else "no services were running")
        return 0
    if args.status:
        states = health(settings)
        for name, ok in states.items():
            print(f"{name}: {'healthy' if ok else 'NOT healthy'}")
        return 0 if all(states.values()) else 1
    return supervise(settings)


if __name__ == "__main__":
    sys.exit(main())
