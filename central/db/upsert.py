"""`INSERT ... ON CONFLICT DO NOTHING` for both backends (the one dialect-specific statement)."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Connection, Executable, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite

from central.db.driver import Statement


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """Insert unless the primary key exists; True when a row was inserted."""
    # rowcount is not reliable here: RETURNING says whether a row went in
    return bool(_statement(table, tuple(values)).rows(conn, values))


@functools.cache
def _statement(table: Table, names: tuple[str, ...]) -> Statement:
    key = next(iter(table.primary_key.columns))

    def build(dialect: str) -> Executable:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        return (insert(table).values({n: bindparam(n) for n in names})
                .on_conflict_do_nothing().returning(key))

    return Statement(build)
