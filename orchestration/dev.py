"""``python -m orchestration.dev``: the Dagster UI on this environment's instance (``make dagster``)."""
from __future__ import annotations

import os
import sys

from kodomo.settings import get_settings
from orchestration.defs.conform.project import prepare_project
from orchestration.runner import prepare_dagster_home


def main() -> None:
    settings = get_settings()
    home = prepare_dagster_home(settings)
    prepare_project()
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    args = [dagster, "dev", "-m", "orchestration.definitions", "-h", "127.0.0.1", "-p", "3000", *sys.argv[1:]]
    # `dagster dev` finds its instance through DAGSTER_HOME: the child's environment, ours stays as it is.
    os.execve(dagster, args, {**os.environ, "DAGSTER_HOME": str(home)})


if __name__ == "__main__":
    main()
