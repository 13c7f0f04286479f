"""Central tests run against a real `anju central serve` subprocess, once per backend:
SQLite (a file in a temp dir) and PostgreSQL (a schema of its own in database `test`, dropped
at the end; skipped with the reason when PostgreSQL cannot be reached).

The two servers are the session's (tests/conftest.py), both alive at once, so a worker that
runs a module's SQLite and PostgreSQL cases in turn starts neither again; they leave no thread
nor descriptor in this process, so the per-test leak check does not count them. Every server
is forked from the session's fork server (tests/forkserver.py): about 0.3 s of CPU a start
instead of 1.8 s. Each test makes its own site and
devices, so tests do not see each other's data. A module that needs a server of its own
builds it on `db_url`: a fresh database per module and backend.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine

from central.accounts import admin
from central.db.engine import make_engine
from central.migrate import migrate
from tests.central.central_helpers import Admin
from tests.central.serverproc import CentralServer
from tests.forkserver import ForkServer
from tests.pgschema import pg_schema_url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('central') / 'central.db'}"
    else:
        yield from pg_schema_url("anju_test")


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An unpooled engine on the module's database (`db_url`), migrated; a module may define
    its own."""
    made = make_engine(db_url, pooled=False)
    migrate(made)
    yield made
    made.dispose()


@pytest.fixture(scope="session", autouse=True)
def forks_first(fork_server: ForkServer) -> ForkServer:
    """The session's fork server (tests/conftest.py) before any test's leak check: its pipes
    stay open in this process, and `server` below starts the session's servers from inside a
    test, so the fork server is started here, first, once."""
    return fork_server


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest) -> CentralServer:
    """The session's server on each backend in turn."""
    return request.getfixturevalue(f"{request.param}_central")


@pytest.fixture
def central(server: CentralServer) -> Iterator[Admin]:
    with Admin(server.db_url, server.url) as admin:
        yield admin


@pytest.fixture(scope="session")
def small_server(tmp_path_factory: pytest.TempPathFactory, fork_server: ForkServer
                 ) -> Iterator[CentralServer]:
    """SQLite, one request in flight, small limits, bodies due in 5 s, the older signing form
    accepted: for load shedding, 413 and the transition (backend-free)."""
    base = tmp_path_factory.mktemp("central-small")
    with CentralServer(f"sqlite:///{base / 'central.db'}", base / "server.log",
                       extra_args=("--max-in-flight", "1", "--retry-after", "3",
                                   "--max-events", "5", "--max-body", "20000",
                                   "--body-timeout", "5", "--accept-legacy-signing"),
                       forks=fork_server) as process:
        yield process


@pytest.fixture
def small(small_server: CentralServer) -> Iterator[Admin]:
    with Admin(small_server.db_url, small_server.url) as admin:
        yield admin



@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    """The police users tests make (central.accounts.admin in this process) get argon2id hashes
    at the lowest cost, 1 pass over 1 MiB in one lane, instead of the library's 3 passes over
    64 MiB in 4 lanes: that costs 0.25 s of CPU per user and again per login, and seconds of
    wall time on a loaded machine (test_police_access: 135 s -> 28 s). The server verifies a
    hash at the cost written in it, so logging in as these users is as cheap. What the server
    hashes itself (the /users form, `anju central user add`) keeps the production parameters."""
    original = admin.hasher
    admin.hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        yield
    finally:
        admin.hasher = original
