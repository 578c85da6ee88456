"""Persistence: one `Store` interface (base.py), one SQLAlchemy implementation."""

from backend.store.base import JobUpdate, Store
from backend.store.sqlalchemy import SQLStore

__all__ = ["JobUpdate", "SQLStore", "Store"]
