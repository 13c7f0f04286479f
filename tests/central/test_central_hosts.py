"""central/db/hosts.py and the watchdog's use of it: after a failover from a hung primary, new
connections go to the host the watchdog reached, not through the old primary's connect
timeout first; and when the watchdog reaches another host than before, the engine's
connections to the others are cut."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from central.db.bounds import DbBounds
from central.db.engine import make_engine
from central.db.failures import is_unavailable
from central.db.hosts import HostOrder, single_target
from central.db.pgbounds import host_order
from central.db.watchdog import Watchdog
from tests.central.background_statement import BackgroundStatement
from tests.pgschema import PG_URL, _conninfo

PG = make_url(PG_URL)
PG_HOST, PG_PORT = PG.host or "127.0.0.1", PG.port or 5432


def _params(host: str, port: str, **more: str) -> dict[str, str]:
    return {"host": host, "port": port, "dbname": "anju", **more}


def test_one_host_is_left_as_written() -> None:
    order = HostOrder()
    order.note_hung(("db1", 5432))
    assert order.arrange(_params("db1", "5432")) == _params("db1", "5432")


def test_the_host_reached_goes_first_and_a_hung_one_last() -> None:
    order = HostOrder()
    params = _params("a,b,c", "5432,5433,5434", target_session_attrs="read-write")
    assert order.arrange(params) == params  # nothing known: as written
    order.note_hung(("a", 5432))
    assert order.arrange(params)["host"] == "b,c,a"
    assert order.arrange(params)["port"] == "5433,5434,5432"
    assert order.note_reached(("c", 5434)) is None
    arranged = order.arrange(params)
    assert (arranged["host"], arranged["port"]) == ("c,b,a", "5434,5433,5432")
    assert arranged["target_session_attrs"] == "read-write" and arranged["dbname"] == "anju"
    # The old primary answers again, reached: first, and no longer hung.
    assert order.note_reached(("a", 5432)) == ("c", 5434)
    assert order.arrange(params)["host"] == "a,b,c"
    # The host reached hangs: no preference left but to try it last.
    order.note_hung(("a", 5432))
    assert order.reached is None
    assert order.arrange(params)["host"] == "b,c,a"


def test_one_port_for_every_host_and_host_addresses() -> None:
    order = HostOrder()
    order.note_reached(("db2", 6432))
    arranged = order.arrange({"host": "db1,db2", "hostaddr": "10.0.0.1,10.0.0.2",
                              "port": "6432"})
    assert arranged == {"host": "db2,db1", "hostaddr": "10.0.0.2,10.0.0.1", "port": "6432,6432"}
    # An address without a name is reported by libpq as the address.
    order.note_reached(("10.0.0.1", 5432))
    assert order.arrange({"host": ",", "hostaddr": "10.0.0.2,10.0.0.1"})["hostaddr"] == (
        "10.0.0.1,10.0.0.2")


def test_mismatched_lists_are_left_for_libpq_to_refuse() -> None:
    order = HostOrder()
    order.note_reached(("b", 5432))
    params = _params("a,b,c", "5432,5433")
    assert order.arrange(params) == params


def test_only_a_read_write_url_of_several_hosts_has_a_single_target() -> None:
    assert single_target({"host": "a,b", "target_session_attrs": "read-write"})
    assert single_target({"host": "a,b", "target_session_attrs": "primary"})
    assert not single_target({"host": "a,b"})
    assert not single_target({"host": "a,b", "target_session_attrs": "prefer-standby"})
    assert not single_target({"host": "a", "target_session_attrs": "read-write"})


class SilentServer:
    """A TCP port that accepts connections and never answers: a hung PostgreSQL, as a
    client sees one. Counts the connections it accepted."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0), backlog=16)
        self.port = self._socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                self.accepted.append(self._socket.accept()[0])

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._socket.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
        self._socket.close()
        self._thread.join(timeout=5)
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def _require_postgres() -> None:
    import psycopg

    try:
        psycopg.connect(**_conninfo()).close()
    except psycopg.Error as err:
        pytest.skip(f"PostgreSQL unreachable: {err}")


def _require_local_postgres() -> None:
    """For the tests that name the server twice (`localhost` and its address)."""
    _require_postgres()
    if PG_HOST != "127.0.0.1":
        pytest.skip(f"names PostgreSQL as localhost too: needs it on 127.0.0.1, not {PG_HOST}")


def _two_host_engine(first: str, second: str, pooled: bool) -> Engine:
    url = (f"postgresql+psycopg://{PG.username}@/{PG.database}?host={first}&host={second}"
           f"&target_session_attrs=read-write")
    return make_engine(url, pooled=pooled, bounds=DbBounds(connect_timeout_s=2,
                                                           statement_timeout_s=60))


def _wait_for(done: Callable[[], bool], limit_s: float = 20) -> None:
    deadline = time.monotonic() + limit_s
    while not done():
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_new_connections_skip_the_hung_host_once_the_watchdog_reached_another(
    silent: SilentServer,
) -> None:
    _require_postgres()
    engine = _two_host_engine(f"127.0.0.1:{silent.port}", f"{PG_HOST}:{PG_PORT}", pooled=False)
    watchdog = Watchdog(engine, DbBounds(connect_timeout_s=2)).start()
    try:
        # Its first connection waits out the silent host, then reaches PostgreSQL.
        _wait_for(lambda: host_order(engine).reached == (PG_HOST, PG_PORT))
        assert len(silent.accepted) == 1
        for _ in range(3):  # new connections (no pool): straight to the host reached
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
        assert len(silent.accepted) == 1
    finally:
        watchdog.stop()
        engine.dispose()


def test_reaching_another_host_cuts_the_connections_to_the_old_one() -> None:
    _require_local_postgres()
    # One server under two names: to this engine, two hosts. The pool's connection goes to
    # the first; then the watchdog, finding that one hung (simulated), reaches the second.
    engine = _two_host_engine(f"localhost:{PG_PORT}", f"{PG_HOST}:{PG_PORT}", pooled=True)
    worker = BackgroundStatement(engine, "SELECT pg_sleep(30)").start()
    watchdog = None
    try:
        _wait_for(lambda: engine.pool.checkedout() == 1)
        time.sleep(0.2)  # the statement sent
        host_order(engine).note_hung(("localhost", PG_PORT))
        watchdog = Watchdog(engine, DbBounds(connect_timeout_s=2)).start()
        assert worker.ended_within(20), "the connection to the old host was not cut"
        assert len(worker.errors) == 1 and is_unavailable(worker.errors[0])  # answered 503
        _wait_for(lambda: watchdog.cuts == 1)  # counted just after the sockets are shut
        assert watchdog.connections_cut == 1
        assert host_order(engine).reached == (PG_HOST, PG_PORT)
        with engine.connect() as conn:  # the pool reconnects, to the host reached
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        if watchdog is not None:
            watchdog.stop()
        worker.ended_within(40)
        engine.dispose()


def test_a_statement_the_host_does_not_answer_sends_new_connections_elsewhere() -> None:
    # A checkout ping or a statement that finds the primary hung is followed at once by a
    # reconnect: it must not go back to the hung host first (connect timeout, per attempt).
    _require_local_postgres()
    engine = _two_host_engine(f"localhost:{PG_PORT}", f"{PG_HOST}:{PG_PORT}", pooled=False)
    try:
        with engine.connect() as conn:
            bounded = conn.connection.driver_connection
            assert bounded.peer == ("localhost", PG_PORT)
            bounded.wait_timeout_s = 0.2  # "hung": no answer within the client's bound
            with pytest.raises(DBAPIError) as raised:
                conn.execute(text("SELECT pg_sleep(2)"))
            assert is_unavailable(raised.value)
        assert host_order(engine).arrange({"host": f"localhost,{PG_HOST}", "port": f"{PG_PORT}"}
                                          )["host"] == f"{PG_HOST},localhost"
        with engine.connect() as conn:
            assert conn.connection.driver_connection.peer == (PG_HOST, PG_PORT)
    finally:
        engine.dispose()
