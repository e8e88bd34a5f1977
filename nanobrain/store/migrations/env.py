"""Alembic environment: runs on the connection handed over by `nanobrain.store.database.upgrade`."""

from alembic import context

from nanobrain.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `nanobrain db upgrade`, which supplies a connection")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
