"""Alembic environment: runs revisions on the connection that mlineage hands over."""

from __future__ import annotations

from alembic import context

from mlineage.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - mlineage always passes a connection
    raise RuntimeError("mlineage migrations run through mlineage.migrations.runner, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
