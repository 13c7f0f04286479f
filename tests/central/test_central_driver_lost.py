"""central/db/driver.py: a statement run on the driver's own cursor whose connection is lost
(the backend terminated, as in a failover) invalidates the connection as SQLAlchemy's own
execute() does, so the pool discards it instead of handing it out again."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from central.db import driver
from central.db.engine import make_engine
from central.db.failures import is_unavailable
from tests.pgschema import _conninfo, pg_schema_url


@pytest.fixture
def engine() -> Iterator[Engine]:
    for url in pg_schema_url("anju_lost"):
        engine = make_engine(url, pooled=True)
        yield engine
        engine.dispose()


def _terminate(pid: int) -> None:
    with psycopg.connect(autocommit=True, **_conninfo()) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_a_lost_connection_is_invalidated_and_not_handed_out_again(engine: Engine) -> None:
    with engine.connect() as conn:
        killed = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        conn.commit()
        _terminate(killed)
        with pytest.raises(DBAPIError) as raised:
            driver.run(conn, "SELECT 1")
        assert raised.value.connection_invalidated
        assert is_unavailable(raised.value)  # answered 503, not 500
        assert conn.invalidated  # its DBAPI connection closed and dropped from the pool
    with engine.connect() as conn:
        fresh = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    assert fresh != killed


def test_other_errors_leave_the_connection_usable(engine: Engine) -> None:
    with engine.connect() as conn:
        with pytest.raises(DBAPIError) as raised:
            driver.run(conn, "SELECT 1/0")
        assert not raised.value.connection_invalidated
        assert not conn.invalidated
        conn.rollback()
        assert driver.run(conn, "SELECT 2 AS two")[0].two == 2
