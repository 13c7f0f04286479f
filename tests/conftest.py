"""Hygiene for every test (no leaked threads, no leaked file descriptors) and the fixtures every
directory shares. How `make test` shares the suite between pytest-xdist workers is in
tests/scheduling.py. Each worker has its own session fixtures (central servers, PostgreSQL
schemas named with the worker's pid, Chromium) and temp dirs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.central.serverproc import CentralServer
from tests.chromium import SHARED
from tests.forkserver import ForkServer
from tests.pgschema import pg_schema_url

pytest_plugins = ["tests.scheduling"]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> object:
    """The worker's one headless Chromium (tests/chromium.py): module-scoped, so that it is
    launched before the per-test leak check counts threads, and closed by the hook below."""
    return SHARED.get(tmp_path_factory.mktemp("warm"))


_browser_modules: set[str] | None = None


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Close the browser behind the last of a run of modules that use it (see SharedBrowser:
    an open one breaks `asyncio.run` on this thread)."""
    global _browser_modules
    if _browser_modules is None:
        _browser_modules = {i.nodeid.split("::", 1)[0] for i in item.session.items
                            if "browser" in getattr(i, "fixturenames", ())}
    if nextitem is None or nextitem.nodeid.split("::", 1)[0] not in _browser_modules:
        SHARED.close()


def _open_fds() -> set[int]:
    try:
        return {int(name) for name in os.listdir("/proc/self/fd")}
    except FileNotFoundError:  # not Linux: nothing to check
        return set()


@pytest.fixture(scope="session")
def fork_server() -> Iterator[ForkServer]:
    """One process with `anju` imported, for the worker's session (tests/forkserver.py): the
    central servers and the commands the tests start are forked from it."""
    server = ForkServer(Path(__file__).parents[1])
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def sqlite_central(tmp_path_factory: pytest.TempPathFactory, fork_server: ForkServer
                   ) -> Iterator[CentralServer]:
    """The session's central server on SQLite (a file in a temp dir), for every test that
    makes its own sites and devices and leaves the server running as it found it."""
    base = tmp_path_factory.mktemp("central-sqlite")
    with CentralServer(f"sqlite:///{base / 'central.db'}", base / "server.log",
                       forks=fork_server) as process:
        yield process


@pytest.fixture(scope="session")
def postgresql_central(tmp_path_factory: pytest.TempPathFactory, fork_server: ForkServer
                       ) -> Iterator[CentralServer]:
    """The same on PostgreSQL: a schema of its own in database `test`, dropped at the end
    (tests skip with the reason when PostgreSQL cannot be reached)."""
    base = tmp_path_factory.mktemp("central-postgresql")
    urls = pg_schema_url("anju_test")
    url = next(urls)
    try:
        with CentralServer(url, base / "server.log", forks=fork_server) as process:
            yield process
    finally:
        next(urls, None)  # drops the schema


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that leaves threads running or file descriptors open behind it."""
    threads_before = set(threading.enumerate())
    fds_before = _open_fds()
    yield
    deadline = time.monotonic() + 2.0
    while True:
        leaked_threads = [
            t for t in threading.enumerate() if t not in threads_before and t.is_alive()
        ]
        leaked_fds = _open_fds() - fds_before
        if not leaked_threads and not leaked_fds:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    details = []
    if leaked_threads:
        details.append(f"threads: {[t.name for t in leaked_threads]}")
    if leaked_fds:
        targets = []
        for fd in sorted(leaked_fds):
            try:
                targets.append(f"{fd}->{os.readlink(f'/proc/self/fd/{fd}')}")
            except OSError:
                targets.append(str(fd))
        details.append(f"file descriptors: {targets}")
    pytest.fail(f"{request.node.nodeid} leaked " + "; ".join(details), pytrace=False)
