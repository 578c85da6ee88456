"""Run the Alembic migrations programmatically (used at start-up and by `genflow migrate`)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# Names the PostgreSQL advisory lock that makes concurrent start-ups migrate one at a time.
MIGRATION_LOCK = 4_711_008


def driver_url(url: str) -> str:
    """PostgreSQL through psycopg 3 whatever the URL names (SQLAlchemy's default for a
    bare `postgresql://` is psycopg2, which GenFlow does not install)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def conninfo(url: str) -> str:
    """psycopg's own form of a SQLAlchemy URL (`postgresql+psycopg://` → `postgresql://`),
    for what talks to PostgreSQL without SQLAlchemy (procrastinate, schema locks)."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}{sep}{rest}"


def sync_url(url: str) -> str:
    """Alembic runs synchronously: drop the async driver where the sync one differs."""
    return url.replace("sqlite+aiosqlite", "sqlite")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(driver_url(url)).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
