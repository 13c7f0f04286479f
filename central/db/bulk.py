"""Batch-shaped reads and writes: one statement per batch, whatever the batch's size.

Ingest touches a few hundred rows per batch in a handful of tables (central/devices/ingest.py). On
PostgreSQL each helper below is one statement with array parameters, whose text does not
depend on how many rows it carries: written once per process, run on the driver's own cursor
(central/db/driver.py) and prepared by the driver:

    select_any    SELECT ... WHERE key = ANY(:keys)
    delete_any    DELETE ... WHERE key = ANY(:keys)
    insert_rows   COPY t (...) FROM STDIN, inside the transaction: the server's cheapest way in
                  (measured on 200-event batches: 0.03 against 0.05 ms of backend CPU per
                  event row for the JSON insert below, and half the client's CPU)
    insert_new    INSERT INTO t (...) SELECT ... FROM json_populate_recordset(NULL::t, :rows)
                  ON CONFLICT DO NOTHING RETURNING key: the rows go as one JSON array, typed by
                  the table's own row type (psycopg's text arrays escape each value in Python:
                  slower); COPY cannot skip conflicts

SQLite has no arrays; it gets chunked `IN (...)` lists and one executemany, both in-process
(no round trips to save there). Same results on both backends.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import postgres
from psycopg.adapt import Dumper
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Row,
    Table,
    any_,
    bindparam,
    delete,
    insert,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import NullType

from central.db import driver
from central.db.driver import is_postgres

_CHUNK = 500  # SQLite: keys per IN list (its variable limit is 32766; plans stay small)
# Built once (json.dumps builds an encoder per call), compact (fewer bytes to send and parse).
_ROWS_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def select_any(
    conn: Connection,
    columns: Sequence[ColumnElement[Any]],
    key: Column[Any],
    keys: Iterable[Any],
    *where: ColumnElement[bool],
    equal: Mapping[Column[Any], Any] | None = None,
) -> list[Any]:
    """Rows of `columns` whose `key` is one of `keys` (and `where`, and each column of `equal`
    equal to its value), in no particular order, with attribute access."""
    wanted = sorted(set(keys))
    if not wanted:
        return []
    equal = equal or {}
    if is_postgres(conn) and not where:  # the ingest path: compiled once (central/db/driver.py)
        sql = _select_text(tuple(columns), key, tuple(equal))
        params = {f"e{i}": value for i, value in enumerate(equal.values())}
        return driver.run(conn, sql, {"keys": _array_value(wanted), **params})
    where = (*where, *(column == value for column, value in equal.items()))
    if is_postgres(conn):
        return list(conn.execute(select(*columns).where(key == any_(_array(key, wanted)), *where)))
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
        sql = f"DELETE FROM {_quote(table.name)} WHERE {_quote(key.name)} = ANY(%(keys)s)"
        driver.run(conn, sql, {"keys": _array_value(wanted)})
        return
    for start in range(0, len(wanted), _CHUNK):
        conn.execute(delete(table).where(key.in_(wanted[start : start + _CHUNK])))


@functools.cache
def _select_text(columns: tuple[ColumnElement[Any], ...], key: Column[Any],
                 equal: tuple[Column[Any], ...]) -> str:
    table = key.table
    names = ", ".join(_quote(c.name) for c in columns)  # type: ignore[attr-defined]
    conditions = [f"{_quote(key.name)} = ANY(%(keys)s)",
                  *(f"{_quote(c.name)} = %(e{i})s" for i, c in enumerate(equal))]
    return f"SELECT {names} FROM {_quote(table.name)} WHERE {' AND '.join(conditions)}"


_PREPARER = postgresql.dialect().identifier_preparer  # type: ignore[no-untyped-call]


def _quote(name: str) -> str:
    return _PREPARER.quote(name)  # type: ignore[no-any-return]


class _VarcharArray(str):
    """A varchar[] in PostgreSQL's text form, built here (sent as it is, typed varchar[])."""


class _BigintArray(str):
    """A bigint[] in PostgreSQL's text form, built here (sent as it is, typed bigint[])."""


class _VarcharArrayDumper(Dumper):
    oid = postgres.types["varchar"].array_oid

    def dump(self, obj: str) -> bytes:
        return obj.encode("utf-8")


class _BigintArrayDumper(_VarcharArrayDumper):
    oid = postgres.types["int8"].array_oid


psycopg.adapters.register_dumper(_VarcharArray, _VarcharArrayDumper)
psycopg.adapters.register_dumper(_BigintArray, _BigintArrayDumper)


def _array_value(keys: list[Any]) -> Any:
    """`keys` as one array parameter. Texts and integers are written out here as the array's
    text form: psycopg quotes a list element by element in Python (a regex search each: 1.7 ms
    of the app's CPU for 200 keys, issue 19). The parameter is still typed as an array, so the
    planner sees its elements (a text cast to an array hides them: sequential scans)."""
    if all(type(k) is int for k in keys):
        return _BigintArray("{" + ",".join(map(str, keys)) + "}")
    if all(type(k) is str for k in keys):
        joined = '","'.join(keys)
        if "\\" in joined or '"' in "".join(keys):  # quoted elements escape these two
            joined = '","'.join(k.replace("\\", "\\\\").replace('"', '\\"') for k in keys)
        return _VarcharArray('{"' + joined + '"}')
    return keys


def _array(key: Column[Any], keys: list[Any]) -> BindParameter[Any]:
    """`_array_value` as a bound parameter of a Core statement."""
    value = _array_value(keys)
    if isinstance(value, list):
        return bindparam("keys", value=keys, type_=postgresql.ARRAY(key.type))
    return bindparam("keys", value=value, type_=NullType())  # NullType: no cast written


def insert_rows(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], *, ignore: bool = False
) -> None:
    """Insert `rows` (dicts with the same keys); `ignore`: skip rows whose key exists."""
    if not rows:
        return
    if ignore:
        insert_new(conn, table, rows)
        return
    if not is_postgres(conn):
        conn.execute(insert(table), list(rows))
        return
    _copy(conn, table, rows)


def insert_new(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> set[Any]:
    """Insert the `rows` whose primary key is not there yet (a single-column key); returns
    the keys inserted (a row skipped, or inserted by a concurrent transaction, is not)."""
    if not rows:
        return set()
    key = next(iter(table.primary_key.columns))
    if not is_postgres(conn):
        statement = sqlite.insert(table).on_conflict_do_nothing().returning(key)
        return {row[0] for row in conn.execute(statement, list(rows))}
    names = tuple(rows[0])
    found = driver.run(conn, _from_json(table, names, key.name), {"rows": _ROWS_JSON.encode(rows)})
    return {row[0] for row in found}


def _copy(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY `rows` in, on the transaction's own connection."""
    names = tuple(rows[0])
    statement = _copy_statement(table, names)
    with driver.driver_cursor(conn, statement) as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([row[n] for n in names])


@functools.cache
def _copy_statement(table: Table, names: tuple[str, ...]) -> str:
    return f"COPY {_quote(table.name)} ({', '.join(_quote(n) for n in names)}) FROM STDIN"


@functools.cache
def _from_json(table: Table, names: tuple[str, ...], returning: str) -> str:
    columns = ", ".join(_quote(n) for n in names)
    return (
        f"INSERT INTO {_quote(table.name)} ({columns}) SELECT {columns} "
        f"FROM json_populate_recordset(NULL::{_quote(table.name)}, CAST(%(rows)s AS json)) "
        f"ON CONFLICT DO NOTHING RETURNING {_quote(returning)}"
    )
