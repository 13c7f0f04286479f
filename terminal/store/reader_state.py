"""The ID card reader's state, written by the terminal service and read by the uploader.

`anju terminal run` owns the reader; `anju sync run` is another process and sends the heartbeat.
The terminal service keeps the reader's state in the store's `device_status` table (schema v3,
one row per component): written when the state changes and stamped "seen" every SEEN_EVERY_S
while the service runs. The uploader reads the row for each heartbeat:

    connected   the reader answers (idle, holding a card, or asking for a card to be re-placed)
    no_reader   no reader answers on the port: unplugged, or it stopped answering (detail: why)
    fault       the reader answers but cannot work, e.g. its SAM module failed (detail: why)
    stale       the terminal service has not confirmed the state for STALE_AFTER_S, or not since
                the machine booted: it is stopped or hung, so its last word cannot be trusted
    unknown     nothing recorded yet (the terminal service never ran on this store)

Ages are measured on the monotonic clock (both processes run on the same machine, in the same
boot), so a wall clock stepped by NTP after a power cut does not make a live service look dead.
Nothing here is personal data: the detail is a transport or reader error, and any long run of
digits in it is masked all the same.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from typing import TYPE_CHECKING

from drivers.idcard.state import ReaderState
from sync.fields import format_utc, parse_utc
from sync.messages import READER_STATES, ReaderReport
from sync.privacy import mask_id_number
from terminal.system.clock import Instant

if TYPE_CHECKING:  # the uploader reads this module too, and never needs the serial drivers
    from drivers.idcard.reader import ReaderStatus
    from terminal.store.database import Store
    from terminal.store.writer import Txn

log = logging.getLogger(__name__)

CONNECTED, NO_READER, FAULT, STALE, UNKNOWN = READER_STATES  # the server refuses any other
SEEN_EVERY_S = 60.0  # how often a running terminal service confirms the state
STALE_AFTER_S = 3 * SEEN_EVERY_S  # three missed confirmations: the service is gone or hung
DETAIL_MAX = 200
COMPONENT = "reader"
_LONG_NUMBER = re.compile(r"\d{8,}[\dXx]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def classify(status: ReaderStatus) -> tuple[str, str | None]:
    """The heartbeat's reader state and its reason, from the reader loop's own status."""
    if status.state.connected:
        return CONNECTED, None
    state = FAULT if status.state is ReaderState.FAULT else NO_READER
    return state, _clean(status.last_error)


def _clean(detail: str | None) -> str | None:
    if not detail:
        return None
    masked = _LONG_NUMBER.sub(lambda m: mask_id_number(m.group()), detail)
    return _CONTROL.sub(" ", masked)[:DETAIL_MAX]  # one line, wherever the server shows it


def write(store: Store, state: str, detail: str | None, *, changed: bool) -> None:
    """Record the state; `changed` restarts its "since", else only the "seen" stamp moves."""
    def work(txn: Txn) -> None:
        now = txn.now()
        at = format_utc(now.wall)
        if changed:
            txn.conn.execute(
                "INSERT OR REPLACE INTO device_status (component, state, detail, since, "
                "since_monotonic_ns, seen_at, seen_monotonic_ns, boot_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (COMPONENT, state, detail, at, now.monotonic_ns, at, now.monotonic_ns,
                 now.boot_id))
        else:
            txn.conn.execute(
                "UPDATE device_status SET seen_at = ?, seen_monotonic_ns = ? "
                "WHERE component = ? AND boot_id = ?",
                (at, now.monotonic_ns, COMPONENT, now.boot_id))

    store.writer.transaction(work)


def read(conn: sqlite3.Connection, now: Instant, *, stale_after_s: float = STALE_AFTER_S
         ) -> ReaderReport:
    """The report for a heartbeat taken at `now` (on this machine)."""
    row = conn.execute(
        "SELECT state, detail, since, since_monotonic_ns, seen_at, seen_monotonic_ns, boot_id "
        "FROM device_status WHERE component = ?", (COMPONENT,)).fetchone()
    if row is None:
        return ReaderReport(UNKNOWN)
    state, detail, since, since_ns, seen_at, seen_ns, boot_id = row
    if boot_id == now.boot_id:
        state_age = max(0.0, (now.monotonic_ns - since_ns) / 1e9)
        seen_age = max(0.0, (now.monotonic_ns - seen_ns) / 1e9)
        fresh = seen_age <= stale_after_s
    else:  # written before this boot: the service has not run since (ages by the wall clock)
        state_age = max(0.0, (now.wall - parse_utc(since)).total_seconds())
        seen_age = max(0.0, (now.wall - parse_utc(seen_at)).total_seconds())
        fresh = False
    if fresh:
        return ReaderReport(state, detail, state_age, seen_age)
    last = f"{state}: {detail}" if detail else state
    return ReaderReport(STALE, _clean(f"terminal service silent; reader was {last}"),
                        seen_age, seen_age)


class ReaderStateRecorder:
    """The terminal service's side: `update()` from the reader thread (cheap, no I/O); a thread
    of its own writes the state when it changes and the "seen" stamp every SEEN_EVERY_S, so the
    reader loop never waits on the store's writer."""

    def __init__(self, store: Store, *, seen_every_s: float = SEEN_EVERY_S) -> None:
        self.store = store
        self.seen_every_s = seen_every_s
        self._lock = threading.Lock()
        self._current: tuple[str, str | None] | None = None
        self._written: tuple[str, str | None] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def update(self, status: ReaderStatus) -> None:
        current = classify(status)
        with self._lock:
            if current == self._current:
                return
            self._current = current
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="reader-state", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def flush(self) -> None:
        """Write what is pending now (the thread does this on its own; tests call it)."""
        with self._lock:
            current = self._current
        if current is None:
            return
        changed = current != self._written
        try:
            write(self.store, *current, changed=changed)
        except Exception as err:  # a status write must never stop the service
            if not self._failing:  # a transition, logged once
                log.warning("reader state not recorded: %s", err)
            self._failing = True
            return
        if self._failing:
            log.info("reader state recorded again")
        self._failing = False
        self._written = current

    def _run(self) -> None:
        next_seen = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(max(0.0, next_seen - time.monotonic()))
            self._wake.clear()
            if self._stop.is_set():
                break
            self.flush()
            if time.monotonic() >= next_seen:
                next_seen = time.monotonic() + self.seen_every_s

