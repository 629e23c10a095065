"""``make mlflow``: MLflow's own UI on this environment's tracking store, on http://127.0.0.1:5000.

The store is ``Settings.mlflow_tracking_uri`` (SQLite under ``$KODOMO_HOME/mlflow`` locally, PostgreSQL in
production), made whole first as every run does (``ml.registry.connect``); artifacts from
``Settings.mlflow_artifacts_uri``.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from kodomo.settings import Settings, get_settings

HOST, PORT = "127.0.0.1", 5000


def server_command(settings: Settings, host: str = HOST, port: int = PORT) -> list[str]:
    """The ``mlflow server`` command line for this environment's store and artifacts."""
    mlflow = shutil.which("mlflow", path=str(Path(sys.executable).parent)) or "mlflow"
    return [mlflow, "server", "--backend-store-uri", settings.mlflow_tracking_uri,
            "--default-artifact-root", settings.mlflow_artifacts_uri, "--host", host, "--port", str(port), "--workers", "1"]


def main() -> None:
    from ml.registry import connect  # MLflow: seconds to import, only when the UI is started

    settings = get_settings()
    connect(settings)
    command = server_command(settings)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
