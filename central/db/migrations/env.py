"""Alembic environment: always online, on the connection handed over by central/migrate.py."""

from __future__ import annotations

from alembic import context

from central.db.tables import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
