"""The app of `make app` started for a browser test: on a free port, over a given home, logging to a file."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")  # Debian's, installed by `make test`; never a downloaded browser
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


@contextmanager
def running_app(home: Path, log: Path) -> Iterator[str]:
    """The app's URL while it runs; stopped afterwards."""
    env = {**os.environ, "KODOMO_HOME": str(home), "KODOMO_ENV": "local"}
    port = _free_port()
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app/main.py", "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],  # other work on the repository must not rerun the pages
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


def settled(page) -> None:
    """Wait until the page's script has finished its run. Acting on a page still being rerun can be lost: the
    rerun rebuilds the widgets (a combobox closes, an expander's form is redrawn) and a shared CI machine makes
    reruns slow enough for that to happen."""
    from playwright.sync_api import expect

    expect(page.locator("[data-testid=stApp]")).to_have_attribute("data-test-script-state", "notRunning",
                                                                  timeout=60_000)
