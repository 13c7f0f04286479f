"""Central tests run against a real `anju central serve` subprocess, once per backend:
SQLite (a file in a temp dir) and PostgreSQL (a schema of its own in database `test`, dropped
at the end; skipped with the reason when PostgreSQL cannot be reached).

Servers are session-scoped and started before the per-test leak check, so they are not leaks;
each test makes its own site and devices, so tests do not see each other's data.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import make_url

from tests.central.central_helpers import Admin
from tests.central.serverproc import CentralServer

PG_URL = os.environ.get("ANJU_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_schema_url() -> Iterator[str]:
    import psycopg

    url = make_url(PG_URL)
    conninfo = {"host": url.host, "port": url.port or 5432, "user": url.username,
                "dbname": url.database, "connect_timeout": 3}
    if url.password:
        conninfo["password"] = url.password
    try:
        conn = psycopg.connect(autocommit=True, **conninfo)
    except psycopg.OperationalError as err:
        pytest.skip(f"PostgreSQL not reachable at {url.host}:{url.port}: {err}")
    schema = f"anju_test_{os.getpid()}_{secrets.token_hex(3)}"
    with conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(autocommit=True, **conninfo) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('central') / 'central.db'}"
    else:
        yield from _pg_schema_url()


@pytest.fixture(scope="session")
def server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralServer]:
    log = tmp_path_factory.mktemp("central-log") / "server.log"
    process = CentralServer(db_url, log).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def central(server: CentralServer) -> Iterator[Admin]:
    admin = Admin(server.db_url, server.url)
    try:
        yield admin
    finally:
        admin.close()


@pytest.fixture(scope="session")
def small_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralServer]:
    """SQLite, one request in flight, small limits: for load shedding and 413 (backend-free)."""
    base = tmp_path_factory.mktemp("central-small")
    process = CentralServer(f"sqlite:///{base / 'central.db'}", base / "server.log",
                            extra_args=("--max-in-flight", "1", "--retry-after", "3",
                                        "--max-events", "5", "--max-body", "20000")).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def small(small_server: CentralServer) -> Iterator[Admin]:
    admin = Admin(small_server.db_url, small_server.url)
    try:
        yield admin
    finally:
        admin.close()

