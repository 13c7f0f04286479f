"""Statements of the ingest path, compiled once and run on PostgreSQL by psycopg's own cursor.

SQLAlchemy Core builds a statement object, computes its cache key, sets up an execution context
and wraps every result row on each call: 0.13-0.49 ms of the app's CPU a statement here, where
the driver's cursor takes 0.06 ms, and an ingest request runs about fifteen of them (issue 19).
A `Statement` is a module-level Core construct whose parameters are all `bindparam`s; its
PostgreSQL text is compiled once, then executed on the transaction's own driver connection.
SQLite (in-process, no round trips) still runs the Core statement through SQLAlchemy.

Rows come back with attribute access and `_asdict()` on both backends (psycopg's named tuples,
SQLAlchemy's Row). psycopg's errors are wrapped as SQLAlchemy wraps those of execute(), so the
callers' 503-or-500 decisions (central/db/failures.py) see the same types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.base import Executable


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


class Statement:
    """A Core statement with bound parameters only, compiled once per process for PostgreSQL.
    `core` may be a function of the dialect's name (for dialect-specific constructs, such as
    INSERT ... ON CONFLICT)."""

    def __init__(self, core: Executable | Callable[[str], Executable]) -> None:
        self._core = core
        self._built: dict[str, Executable] = {}
        self._text: str | None = None
        self._constants: dict[str, Any] = {}  # values the construct holds itself ("gap")

    def core(self, dialect: str) -> Executable:
        built = self._built.get(dialect)
        if built is None:
            core = self._core
            built = self._built[dialect] = core if isinstance(core, Executable) else core(dialect)
        return built

    def text(self, conn: Connection) -> str:
        if self._text is None:
            compiled = self.core("postgresql").compile(dialect=conn.dialect)
            self._constants = {name: bind.value for bind, name in compiled.bind_names.items()
                               if not bind.required}
            self._text = compiled.string
        return self._text

    def rows(self, conn: Connection, params: Mapping[str, Any] | None = None) -> list[Any]:
        """The statement's rows (none for a statement without a result)."""
        if not is_postgres(conn):
            result = conn.execute(self.core(conn.dialect.name), dict(params or {}))
            return list(result) if result.returns_rows else []
        sql = self.text(conn)
        return run(conn, sql, {**self._constants, **(params or {})})


def run(conn: Connection, sql: str, params: Mapping[str, Any] | None = None) -> list[Any]:
    """`sql` (psycopg's `%(name)s` placeholders) on the transaction's driver connection."""
    with driver_cursor(conn, sql) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []


@contextmanager
def driver_cursor(conn: Connection, sql: str) -> Iterator[psycopg.Cursor[Any]]:
    """A cursor of the transaction's own psycopg connection (rows as named tuples); its errors
    raised as SQLAlchemy raises them, and a lost connection invalidated (the Connection and its
    pooled DBAPI connection) the same way."""
    if not conn.in_transaction():
        conn.begin()  # as execute() would: the caller's commit() then commits this statement
    dbapi = conn.connection.driver_connection
    assert isinstance(dbapi, psycopg.Connection)
    cursor = dbapi.cursor(row_factory=namedtuple_row)
    try:
        yield cursor
    except psycopg.Error as err:
        lost = conn.dialect.is_disconnect(err, conn.connection, cursor)
        if lost and not conn.invalidated:
            # As execute() does: the pool discards this connection when it is returned, so
            # no later checkout (or its ping) has to find it dead first.
            conn.invalidate(err)
        raise DBAPIError.instance(sql, None, err, psycopg.Error,
                                  connection_invalidated=lost) from err
    finally:
        cursor.close()
