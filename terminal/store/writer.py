"""The one writer: owns the write connection; every change is one BEGIN IMMEDIATE transaction.

A lock serialises callers from any thread (the page, the CLI, the purge timer). The disk guard
runs before BEGIN, so a refusal writes nothing; any exception inside the transaction rolls it
back whole, so a failed write leaves nothing partial and touches nothing committed. `transaction`
returns only after COMMIT has returned, i.e. after the WAL was fsynced (synchronous=FULL).

Transactions nest, as sqlite-utils' `atomic()` does: `transaction` called again on the thread
that holds the writer (from inside a `work`) opens a SAVEPOINT instead of waiting for itself.

    transaction(outer)               BEGIN IMMEDIATE ........................ COMMIT
        transaction(inner)               SAVEPOINT w1 ... RELEASE w1           (kept by COMMIT)
        transaction(failing)             SAVEPOINT w2 ... ROLLBACK TO w2       (the outer goes on)

An inner transaction that returned is durable only when the outermost one commits; if the
outer one fails, the inner one's writes go with it. Other threads wait for the outermost.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sync.fields import json_problem
from terminal.config import DeviceIdentity
from terminal.domain.events import Event, Kind
from terminal.domain.fold import apply
from terminal.domain.stays import Stay
from terminal.errors import ConfigError, StoreError, StoreFullError, TerminalError, TextRefusedError
from terminal.store import event_chain, outbox, stay_views
from terminal.store.disk import DiskGuard
from terminal.system.clock import Clock, Instant

T = TypeVar("T")
_SQLITE_FULL = 13


class Txn:
    """What a write may do inside its transaction: read state, append events, project."""

    def __init__(
        self, conn: sqlite3.Connection, identity: DeviceIdentity | None, clock: Clock
    ) -> None:
        self.conn = conn
        self._identity = identity
        self._clock = clock
        self.events: list[Event] = []

    @property
    def identity(self) -> DeviceIdentity:
        if self._identity is None:
            raise ConfigError("device identity (device.device_id, device.site_code) is not "
                              "configured: cannot write events",
                              "本机尚未配置设备编号和旅馆代码")
        return self._identity

    def now(self) -> Instant:
        return self._clock.now()

    def load_stay(self, stay_id: str) -> Stay | None:
        stays: dict[str, Stay] = {}
        for event in event_chain.stay_events(self.conn, stay_id):
            apply(stays, event)
        return stays.get(stay_id)

    def append(
        self, stays: dict[str, Stay], *, kind: Kind, stay_id: str, data: dict[str, Any],
        operator: str, target_event_id: str | None = None, instant: Instant | None = None,
    ) -> Event:
        """Fold the event into `stays` first (refusing what does not apply), then insert it.
        Every text of the event obeys sync.fields' text rule first (page, CLI and scanner all
        reach the store here): refused, never cleaned."""
        refuse_bad_text({"operator": operator, **data})
        event = event_chain.append(
            self.conn, self.identity, instant or self.now(), kind=kind, stay_id=stay_id,
            data=data, operator=operator, target_event_id=target_event_id,
        )
        stay = apply(stays, event)  # raises before COMMIT: the insert above is rolled back
        stay_views.write(self.conn, stay)
        self.events.append(event)
        return event

    def supersede_pending(self, stay_id: str, void_event_id: str) -> int:
        return outbox.supersede_pending(self.conn, stay_id, void_event_id)


def refuse_bad_text(values: dict[str, Any]) -> None:
    """TextRefusedError naming the field whose text holds a control character or a surrogate."""
    problem = json_problem(values)
    if problem is not None:
        field, why = problem
        raise TextRefusedError(f"{field} {why}: refused, type it again", field=field)


class Writer:
    def __init__(
        self, conn: sqlite3.Connection, *, identity: DeviceIdentity | None, clock: Clock,
        guard: DiskGuard,
    ) -> None:
        self.conn = conn
        self.identity = identity
        self.clock = clock
        self.guard = guard
        self._lock = threading.RLock()  # re-entered only by a nested transaction
        self._depth = 0  # open transactions on the thread holding the lock (0: none)
        # Monotonic start of the transaction in progress (None: idle), for the watchdog: a
        # transaction that never ends (a dying SD card's fsync, a deadlock) stops the pings.
        self.busy_since: float | None = None

    def transaction(self, work: Callable[[Txn], T]) -> T:
        with self._lock:
            if self._depth:
                return self._savepoint(work)
            self.busy_since = time.monotonic()
            self._depth = 1
            try:
                return self._transaction(work)
            finally:
                self._depth = 0
                self.busy_since = None

    def _savepoint(self, work: Callable[[Txn], T]) -> T:
        """A transaction inside a transaction: its own SAVEPOINT, rolled back alone on error."""
        name = f"w{self._depth}"
        self._depth += 1
        try:
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                result = work(Txn(self.conn, self.identity, self.clock))
                self.conn.execute(f"RELEASE {name}")
            except BaseException as err:
                # SQLite may have rolled back the whole transaction (SQLITE_FULL): then the
                # savepoint is gone too, and the outer transaction fails at its COMMIT.
                if self.conn.in_transaction:
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                if isinstance(err, sqlite3.Error):
                    raise _map(err) from err
                raise
            return result
        finally:
            self._depth -= 1

    def _transaction(self, work: Callable[[Txn], T]) -> T:
        self.guard.check()
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as err:
            raise _map(err) from err
        try:
            result = work(Txn(self.conn, self.identity, self.clock))
            if not self.conn.in_transaction:  # SQLite rolled it back under a nested failure
                raise StoreError("the transaction was rolled back inside; nothing was written")
            self.conn.execute("COMMIT")
        except BaseException as err:
            # SQLite may already have rolled back (e.g. SQLITE_FULL); ROLLBACK only if not.
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(err, sqlite3.Error):
                raise _map(err) from err
            raise
        return result

    def checkpoint(self) -> None:
        """Copy the WAL into the database and truncate it (after purge: drop old page images)."""
        with self._lock:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        with self._lock:
            self.conn.close()


def _map(err: sqlite3.Error) -> TerminalError:
    if getattr(err, "sqlite_errorcode", None) == _SQLITE_FULL:
        return StoreFullError(
            "the disk filled up during the write; it was rolled back, nothing committed was lost"
        )
    return StoreError(f"database write failed and was rolled back: {err}")
