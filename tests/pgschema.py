"""A PostgreSQL schema of its own for a test run or a bench, dropped at the end.

PostgreSQL runs on this machine kind at 127.0.0.1:5432 (trust auth, database `test`); another
server can be named with ANJU_TEST_PG. One helper for the central tests, the uploader tests and
the benches, so that every one of them cleans up the same way.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from typing import Any

PG_URL = os.environ.get("ANJU_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class PostgresUnavailable(Exception):
    """The server cannot be reached; tests skip with this reason, benches print it."""


def _conninfo() -> dict[str, Any]:
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL)
    info: dict[str, Any] = {"host": url.host, "port": url.port or 5432, "user": url.username,
                            "dbname": url.database, "connect_timeout": 3}
    if url.password:
        info["password"] = url.password
    return info


def create_schema(prefix: str) -> tuple[str, str]:
    """Create a fresh schema; returns (database URL with it as search_path, schema name)."""
    import psycopg

    schema = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        with psycopg.connect(autocommit=True, **_conninfo()) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as err:
        raise PostgresUnavailable(f"PostgreSQL not reachable: {err}") from err
    return f"{PG_URL}?options=-csearch_path%3D{schema}", schema


def drop_schema(schema: str) -> None:
    import psycopg

    with psycopg.connect(autocommit=True, **_conninfo()) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def pg_schema_url(prefix: str) -> Iterator[str]:
    """For pytest fixtures: yield the URL of a fresh schema, drop it afterwards, skip if no PG."""
    import pytest

    try:
        url, schema = create_schema(prefix)
    except PostgresUnavailable as err:
        pytest.skip(str(err))
    try:
        yield url
    finally:
        drop_schema(schema)
