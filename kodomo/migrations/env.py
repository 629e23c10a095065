"""Alembic's entry point: runs the revisions on the connection that ``kodomo.migrations`` hands over."""
from alembic import context

from kodomo.operational import metadata

connection = context.config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("the operational store is migrated by kodomo.operational.connect, not by the alembic command")
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
