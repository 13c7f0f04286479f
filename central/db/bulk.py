"""Batch-shaped reads and writes: one statement per batch, whatever the batch's size.

Ingest touches a few hundred rows per batch in a handful of tables (central/devices/ingest.py). On
PostgreSQL each helper below is one statement with array parameters, whose text does not
depend on how many rows it carries (so it is compiled once and prepared by the driver):

    select_any    SELECT ... WHERE key = ANY(:keys)
    delete_any    DELETE ... WHERE key = ANY(:keys)
    insert_rows   INSERT INTO t (...) SELECT ... FROM json_populate_recordset(NULL::t, :rows)
                  [ON CONFLICT DO NOTHING]: the rows go as one JSON array, typed by the table's
                  own row type (psycopg's text arrays escape each value in Python: slower)

SQLite has no arrays; it gets chunked `IN (...)` lists and one executemany, both in-process
(no round trips to save there). Same results on both backends.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Row,
    Table,
    TextClause,
    any_,
    bindparam,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite

_CHUNK = 500  # SQLite: keys per IN list (its variable limit is 32766; plans stay small)
_STATEMENTS: dict[tuple[str, tuple[str, ...], bool], TextClause] = {}
# Built once (json.dumps builds an encoder per call), compact (fewer bytes to send and parse).
_ROWS_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def select_any(
    conn: Connection,
    columns: Sequence[ColumnElement[Any]],
    key: Column[Any],
    keys: Iterable[Any],
    *where: ColumnElement[bool],
) -> list[Row[Any]]:
    """Rows of `columns` whose `key` is one of `keys` (and `where`), in no particular order."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    if is_postgres(conn):
        array = bindparam("keys", value=wanted, type_=postgresql.ARRAY(key.type))
        return list(conn.execute(select(*columns).where(key == any_(array), *where)))
    found: list[Row[Any]] = []
    for start in range(0, len(wanted), _CHUNK):
        found += conn.execute(
            select(*columns).where(key.in_(wanted[start : start + _CHUNK]), *where)
        )
    return found


def delete_any(conn: Connection, key: Column[Any], keys: Iterable[Any]) -> None:
    """DELETE FROM key's table WHERE key = ANY(keys)."""
    wanted = sorted(set(keys))
    table = key.table
    if not wanted:
        return
    if is_postgres(conn):
        array = bindparam("keys", value=wanted, type_=postgresql.ARRAY(key.type))
        conn.execute(delete(table).where(key == any_(array)))
        return
    for start in range(0, len(wanted), _CHUNK):
        conn.execute(delete(table).where(key.in_(wanted[start : start + _CHUNK])))


def insert_rows(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, ignore: bool = False
) -> None:
    """Insert `rows` (dicts with the same keys); `ignore`: skip rows whose key exists."""
    if not rows:
        return
    names = tuple(rows[0])
    if not is_postgres(conn):
        statement = (
            sqlite.insert(table).on_conflict_do_nothing() if ignore else insert(table)
        )
        conn.execute(statement, list(rows))
        return
    conn.execute(_from_json(table, names, ignore), {"rows": _ROWS_JSON.encode(rows)})


def _from_json(table: Table, names: tuple[str, ...], ignore: bool) -> TextClause:
    cached = _STATEMENTS.get((table.name, names, ignore))
    if cached is not None:
        return cached
    quote = postgresql.dialect().identifier_preparer.quote  # type: ignore[no-untyped-call]
    columns = ", ".join(quote(n) for n in names)
    statement = text(
        f"INSERT INTO {quote(table.name)} ({columns}) SELECT {columns} "
        f"FROM json_populate_recordset(NULL::{quote(table.name)}, CAST(:rows AS json))"
        + (" ON CONFLICT DO NOTHING" if ignore else "")
    )
    _STATEMENTS[table.name, names, ignore] = statement
    return statement
