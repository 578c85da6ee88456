"""The write path's hot statements, compiled once and run on the driver's own cursor.

A runner's checkpoint is two statements: the fenced UPDATE of the job and the INSERT of
its events. Through `Connection.execute` SQLAlchemy's per-call work (cache look-up,
execution context, parameter processing, result wrapping) cost about twice what SQLite
itself spends on the transaction (docs/performance.md). Here a statement is compiled
once per dialect; its parameters go through the same type processors SQLAlchemy would
apply (JSON, datetimes) and it runs on the DBAPI cursor of the caller's connection -
inside the caller's transaction, on SQLite and PostgreSQL alike. Driver errors come out
as SQLAlchemy's (so the store still turns them into StoreUnavailable), and a lost
connection is invalidated as `Connection.execute` would.

Results come back as the driver gives them (integers, or nothing), or - `fetch_row` - as
a mapping with each column's own result processing (JSON, datetimes), as SQLAlchemy's
result rows would have it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable

T = TypeVar("T")


@dataclass(frozen=True)
class Prepared:
    sql: str
    names: tuple[str, ...]  # the parameters, in order for a positional driver
    positional: bool
    processors: Mapping[str, Callable[[Any], Any]]
    defaults: Mapping[str, Any]  # parameters whose value is part of the statement

    def bind(self, params: Mapping[str, Any]) -> Any:
        """The driver's parameters: processed, in its paramstyle."""
        values = {**self.defaults, **params} if self.defaults else params
        processors = self.processors
        processed = [
            process(values[name]) if (process := processors.get(name)) else values[name]
            for name in self.names
        ]
        if self.positional:
            return tuple(processed)
        return dict(zip(self.names, processed, strict=True))


@lru_cache(maxsize=128)
def prepare(statement: Executable, dialect: Dialect) -> Prepared:
    """Compile `statement` for `dialect` (cached by the statement object itself, so only
    for statements built once: module constants or lru-cached builders)."""
    compiled = statement.compile(dialect=dialect)
    processors = {}
    defaults = {}
    for name, bind in compiled.binds.items():
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors[name] = process
        if bind.value is not None and bind.callable is None:
            defaults[name] = bind.value
    names = tuple(compiled.positiontup or ()) if compiled.positional else tuple(compiled.binds)
    return Prepared(compiled.string, names, compiled.positional, processors, defaults)


def fetch_one(
    conn: Connection, statement: Executable, params: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """Run `statement` once; its first row (unprocessed), or None."""
    prepared = prepare(statement, conn.dialect)
    bound = prepared.bind(params)

    def run(cursor: Any) -> tuple[Any, ...] | None:
        cursor.execute(prepared.sql, bound)
        row = cursor.fetchone()
        return tuple(row) if row is not None else None

    return _on_cursor(conn, prepared.sql, bound, run)


def fetch_row(
    conn: Connection, statement: Executable, params: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Run a statement with RETURNING (or a SELECT) once: its first row as a mapping of
    column keys to values processed as SQLAlchemy's result rows would have them (JSON
    parsed, SQLite's datetime text read back), or None."""
    rows = _fetch(conn, statement, params, first_only=True)
    return rows[0] if rows else None


def fetch_rows(
    conn: Connection, statement: Executable, params: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """`fetch_row` for every row."""
    return _fetch(conn, statement, params, first_only=False)


def _fetch(
    conn: Connection, statement: Executable, params: Mapping[str, Any], *, first_only: bool
) -> list[dict[str, Any]]:
    prepared = prepare(statement, conn.dialect)
    bound = prepared.bind(params)

    def run(cursor: Any) -> tuple[list[Any], tuple[Any, ...]]:
        cursor.execute(prepared.sql, bound)
        found = cursor.fetchmany(1) if first_only else cursor.fetchall()
        codes = tuple(column[1] for column in cursor.description) if found else ()
        return found, codes

    found, type_codes = _on_cursor(conn, prepared.sql, bound, run)
    if not found:
        return []
    readers = _readers(statement, conn.dialect, type_codes)
    return [
        {
            key: read(value) if read else value
            for (key, read), value in zip(readers, row, strict=True)
        }
        for row in found
    ]


@lru_cache(maxsize=64)
def _readers(
    statement: Executable, dialect: Dialect, type_codes: tuple[Any, ...]
) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    """Each RETURNING column's key and result processor (cached like `prepare`; the
    driver's type codes pick some, as PostgreSQL's numerics)."""
    columns = statement.exported_columns  # type: ignore[attr-defined]
    return tuple(
        (column.key, column.type.dialect_impl(dialect).result_processor(dialect, code))
        for column, code in zip(columns, type_codes, strict=True)
    )


def execute(conn: Connection, statement: Executable, params: Mapping[str, Any]) -> None:
    """Run `statement` once, for its effect."""
    prepared = prepare(statement, conn.dialect)
    bound = prepared.bind(params)
    _on_cursor(conn, prepared.sql, bound, lambda cursor: cursor.execute(prepared.sql, bound))


def execute_many(
    conn: Connection, statement: Executable, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Run `statement` once per row (the driver's executemany)."""
    prepared = prepare(statement, conn.dialect)
    bound = [prepared.bind(row) for row in rows]
    _on_cursor(conn, prepared.sql, bound, lambda cursor: cursor.executemany(prepared.sql, bound))


def _on_cursor(conn: Connection, sql: str, params: Any, work: Callable[[Any], T]) -> T:
    dialect = conn.dialect
    fairy = conn.connection  # the pooled DBAPI connection, in the caller's transaction
    cursor = fairy.cursor()
    try:
        return work(cursor)
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, fairy.dbapi_connection, cursor)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql, params, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost
        ) from exc
    finally:
        cursor.close()
