"""A server process's watch on its PostgreSQL: a ping every `INTERVAL_S` on a connection of
its own; a ping not answered within `PING_TIMEOUT_S` means the server is hung (frozen, or cut
off with its sockets open), and every connection of this process to that server is cut at once
(`BoundedConnection.cut_all`), instead of each statement waiting out its own bound
(statement_timeout + 2 s). The requests waiting on them answer 503, the pool reconnects, and
a multi-host URL finds the promoted standby: this is what bounds the time without ingest when
a primary hangs (docs/operations.md).

Only a hang cuts: a refused or failed connection (a primary that died) is already seen by
every connection on its own, and a connect attempt that fails says nothing about the
connections made since to another host.

The watchdog also keeps its engine's `HostOrder` (central/db/hosts.py): new connections try the
host it reached first and a hung one last. And when it reaches another host than before, for a
URL with one right host (`target_session_attrs=read-write`), the engine's connections to the
others are cut: they are to an old primary. That covers a hang that came while the watchdog had
no connection of its own (at start, or reconnecting), which no ping of its would have seen.
"""

from __future__ import annotations

import logging
import threading

import psycopg
from sqlalchemy import Engine

from central.db.bounds import DbBounds
from central.db.hosts import Peer, single_target
from central.db.pgbounds import PING_TIMEOUT_S, BoundedConnection, DatabaseHungError, host_order

log = logging.getLogger(__name__)
INTERVAL_S = 1.0


class Watchdog:
    def __init__(self, engine: Engine, bounds: DbBounds, interval_s: float = INTERVAL_S) -> None:
        cargs, cparams = engine.dialect.create_connect_args(engine.url)
        self._cargs, self._cparams = cargs, {**cparams, **bounds.connect_args(engine.url)}
        self._order = host_order(engine)
        self._single_target = single_target(self._cparams)
        self.interval_s = interval_s
        self.cuts = 0  # times it cut connections (for /metrics)
        self.connections_cut = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=PING_TIMEOUT_S + 5)

    def _run(self) -> None:
        conn: BoundedConnection | None = None
        peer = ("", 0)
        first = True  # watching from the start, not one interval later
        while first or not self._stop.wait(self.interval_s):
            first = False
            try:
                if conn is None or conn.closed:
                    params = self._order.arrange(self._cparams)
                    conn = BoundedConnection.connect(*self._cargs, **params, autocommit=True)
                    conn.wait_timeout_s = PING_TIMEOUT_S
                    peer = (conn.info.host, conn.info.port)
                conn.execute(";")
                self._reached(peer)  # answered: the host to prefer (again, after a false alarm)
            except DatabaseHungError:
                self._order.note_hung(peer)
                cut = self._count(BoundedConnection.cut_all(peer))
                log.warning(
                    "database %s:%s did not answer a ping within %g s: cut %d connections to it",
                    *peer, PING_TIMEOUT_S, cut,
                )
                conn = None
            except psycopg.Error:
                if conn is not None:
                    conn.close()
                conn = None
        if conn is not None:
            conn.close()

    def _reached(self, peer: Peer) -> None:
        if self._order.reached == peer:
            return
        before = self._order.note_reached(peer)
        if not self._single_target or before == peer:
            return
        cut = BoundedConnection.cut_others(self._order, peer)
        if cut:
            self._count(cut)
            log.warning("database %s:%s is the primary now: cut %d connections to other hosts",
                        *peer, cut)

    @property
    def reached(self) -> Peer | None:
        """The host it last reached (None before the first, and while the last one hangs)."""
        return self._order.reached

    def _count(self, connections: int) -> int:
        self.cuts += 1
        self.connections_cut += connections
        return connections
