"""Alembic environment: one synchronous connection, the URL set by backend.store.migrate."""

from alembic import context
from sqlalchemy import create_engine, pool, text

from backend.store.migrate import MIGRATION_LOCK
from backend.store.tables import metadata

config = context.config
engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Replicas and workers start together and each migrates: one at a time (the
            # lock ends with the transaction; the next one then finds the schema current).
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()
engine.dispose()
