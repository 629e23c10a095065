"""Alembic migrations of the operational store: its schema's history, one revision per change.

The revisions own the tables, columns, constraints and indexes. The protections (triggers and their functions)
and the PostgreSQL app role's grants are not in them: ``kodomo.operational.connect`` checks those at every start
and restores what is missing or changed, so they are defined once, there, and a revision never needs to know
which role the deployment's app uses.

There is no ``alembic.ini``: ``kodomo.operational.connect`` upgrades the store to the head revision as its owner,
under the store's write lock. A change to the schema is a new file in ``versions/`` whose ``down_revision`` is the
current head; the tests check that the head matches ``kodomo.operational.metadata``.
"""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

HEAD = "head"


def _config(con: Connection | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    config.attributes["connection"] = con
    return config


def upgrade(con: Connection, revision: str = HEAD) -> None:
    """Run the revisions up to ``revision`` inside the connection's transaction."""
    command.upgrade(_config(con), revision)


def stamp(con: Connection, revision: str) -> None:
    """Record that the store already has ``revision``'s schema (a store made before migrations)."""
    command.stamp(_config(con), revision)


def current_revision(con: Connection) -> str | None:
    return MigrationContext.configure(con).get_current_revision()


def head_revision() -> str:
    return ScriptDirectory.from_config(_config(None)).get_current_head()
