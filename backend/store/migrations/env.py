"""Alembic environment: one synchronous connection, the URL set by backend.store.migrate."""

from alembic import context
from sqlalchemy import create_engine, pool

from backend.store.tables import metadata

config = context.config
engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
