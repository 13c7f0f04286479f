"""Bounded waits on PostgreSQL: no request or command waits on the database without a limit.

A database that is down refuses connections at once; a *hung* one (a frozen machine, a network
partition, a SIGSTOPped postmaster) accepts TCP and then never answers. Each wait has its bound:

* connecting: `connect_timeout` (psycopg enforces it per host of a multi-host URL, so a hung
  first host costs that long before the next one is tried);
* a lost peer: TCP keepalives and `tcp_user_timeout` close a connection whose packets go
  unanswered (a real partition; a frozen process on a live kernel still acknowledges them);
* a slow statement or a lock: the server's `statement_timeout` and `lock_timeout`;
* a server that accepted a statement and went silent: the client's own bound on each wait for
  an answer (`statement_timeout` + `WAIT_MARGIN_S`), after which the connection is closed and
  the pool discards it (`DatabaseHungError`);
* a pooled connection: `pool_timeout`, and a checkout ping bounded by `PING_TIMEOUT_S`;
* a server that hangs while statements wait on it: the watchdog (central/db/watchdog.py)
  pings it every second and, when it does not answer, cuts every connection to it;
* reconnecting after a failover: new connections try the host the watchdog last reached
  first and a hung one last (central/db/hosts.py), not the old primary's connect_timeout
  each time.

Settings come from central/settings.py (CLI options of `anju central serve`).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import weakref
from collections.abc import Callable
from typing import Any, ClassVar

import psycopg
from psycopg.errors import _WaitTimeout  # psycopg raises it when a wait's timeout expires
from sqlalchemy import Engine, event
from sqlalchemy.exc import DisconnectionError

from central.db.bounds import DbBounds
from central.db.hosts import HostOrder, Peer

PING_TIMEOUT_S = 2.0  # a checkout ping: a round trip of nothing
WAIT_INTERVAL_S = 0.1  # psycopg's own: how often a wait wakes up to notice Ctrl-C


class DatabaseHungError(psycopg.OperationalError):
    """The server accepted a statement and did not answer in time: the connection is closed."""


class BoundedConnection(psycopg.Connection[Any]):
    """Every wait for the server without a timeout of its own gets `wait_timeout_s`; and
    `cut_all(peer)` ends, from another thread, every wait on connections to a server found hung
    (central/db/watchdog.py), sooner than their own bounds would."""

    wait_timeout_s: float | None = None
    _live: ClassVar[weakref.WeakSet[BoundedConnection]] = weakref.WeakSet()
    _live_lock = threading.Lock()
    _guard: socket.socket | None = None
    peer: Peer = ("", 0)
    origin: HostOrder | None = None  # the engine it was opened for

    @classmethod
    def open(cls, *args: Any, **kwargs: Any) -> BoundedConnection:
        conn = cls.connect(*args, **kwargs)
        # A duplicate of the socket, owned here: shutting it down wakes a thread waiting on
        # the connection, and, held until close(), the descriptor cannot be reused meanwhile.
        conn._guard = socket.socket(fileno=os.dup(conn.pgconn.socket))
        conn.peer = (conn.info.host, conn.info.port)
        with cls._live_lock:
            cls._live.add(conn)
        return conn

    def close(self) -> None:
        super().close()
        if self._guard is not None:
            self._guard.close()

    @classmethod
    def cut_all(cls, peer: Peer) -> int:
        """Shut down the sockets of every live connection to `peer`: their waits end at once
        with a connection error (SQLAlchemy then drops them). Returns how many."""
        return cls._cut(lambda c: c.peer == peer)

    @classmethod
    def cut_others(cls, origin: HostOrder, peer: Peer) -> int:
        """Cut the live connections opened for `origin`'s engine to any host but `peer` (the one
        primary of its URL, as its watchdog just found). Returns how many."""
        return cls._cut(lambda c: c.origin is origin and c.peer != peer)

    @classmethod
    def _cut(cls, chosen: Callable[[BoundedConnection], bool]) -> int:
        with cls._live_lock:
            victims = [c for c in cls._live if chosen(c) and c._guard is not None]
        for conn in victims:
            with contextlib.suppress(OSError):
                conn._guard.shutdown(socket.SHUT_RDWR)  # type: ignore[union-attr]
        return len(victims)

    def wait(
        self, gen: Any, interval: float = WAIT_INTERVAL_S, timeout: float | None = None
    ) -> Any:
        bound = self.wait_timeout_s if timeout is None else timeout
        try:
            return super().wait(gen, interval=interval, timeout=bound)
        except _WaitTimeout:
            if timeout is not None:
                raise  # the caller's own timeout: psycopg's contract
            # Mid-protocol with a silent server: the connection's state is unknown, so it is
            # closed (SQLAlchemy then sees a disconnect and drops every pooled connection), and
            # the engine's next connections try its other hosts first (a checkout ping that
            # found the primary hung is followed at once by a reconnect).
            self.close()
            if self.origin is not None:
                self.origin.note_hung(self.peer)
            raise DatabaseHungError(
                f"the database did not answer within {bound:g} s: connection closed"
            ) from None


_HOST_ORDERS: weakref.WeakKeyDictionary[Engine, HostOrder] = weakref.WeakKeyDictionary()


def host_order(engine: Engine) -> HostOrder:
    """The host preference of an engine made by `install` (its watchdog keeps it)."""
    return _HOST_ORDERS[engine]


def install(engine: Engine, bounds: DbBounds, *, ping: bool) -> None:
    """Connect through `BoundedConnection` (hosts in the order of the engine's `HostOrder`), set
    the server-side timeouts on each new connection, and (pooled engines) ping each checkout
    with a short bound."""

    order = _HOST_ORDERS[engine] = HostOrder()

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
        conn = BoundedConnection.open(*cargs, **order.arrange(cparams))
        conn.wait_timeout_s = bounds.wait_s
        conn.origin = order
        return conn

    @event.listens_for(engine, "connect")
    def _session(dbapi_conn: Any, _record: Any) -> None:
        # A session setting, not `options=` in the URL: the URL may carry its own options
        # (search_path); both are reset only by a new connection.
        with dbapi_conn.cursor() as cur:
            cur.execute(
                "SELECT set_config('statement_timeout', %s, false), "
                "set_config('lock_timeout', %s, false)",
                (
                    f"{int(bounds.statement_timeout_s * 1000)}",
                    f"{int(bounds.lock_timeout_s * 1000)}",
                ),
            )
        dbapi_conn.commit()

    if ping:

        @event.listens_for(engine, "checkout")
        def _ping(dbapi_conn: BoundedConnection, _record: Any, _proxy: Any) -> None:
            # SQLAlchemy's pool_pre_ping would wait as long as a statement may run; a ping is
            # one round trip, so it gets a bound of its own (SQLAlchemy's ping statement, ";").
            # Sent in autocommit: one round trip, no BEGIN before it nor ROLLBACK after it
            # (three round trips each checkout, issue 19), and the checkout starts idle, so a
            # caller may still choose AUTOCOMMIT (VACUUM, CREATE INDEX CONCURRENTLY).
            saved, dbapi_conn.wait_timeout_s = dbapi_conn.wait_timeout_s, PING_TIMEOUT_S
            autocommit = dbapi_conn.autocommit
            try:
                dbapi_conn.autocommit = True
                with dbapi_conn.cursor() as cur:
                    cur.execute(";")
                dbapi_conn.autocommit = autocommit
            except psycopg.Error as err:
                dbapi_conn.close()
                raise DisconnectionError(f"database ping failed: {type(err).__name__}") from err
            finally:
                dbapi_conn.wait_timeout_s = saved
