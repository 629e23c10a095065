"""``python -m orchestration.dev``: the Dagster UI on this environment's instance (``make dagster``)."""
from __future__ import annotations

import os
import sys

from kodomo.settings import get_settings
from orchestration.runner import prepare_dagster_home


def main() -> None:
    prepare_dagster_home(get_settings())
    args = ["dagster", "dev", "-m", "orchestration.definitions", "-h", "127.0.0.1", "-p", "3000", *sys.argv[1:]]
    os.execvp(os.path.join(os.path.dirname(sys.executable), "dagster"), args)


if __name__ == "__main__":
    main()
