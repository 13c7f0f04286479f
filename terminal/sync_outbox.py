"""The terminal store seen through sync.uploader.Outbox (terminal -> sync, never the reverse).

Reads go through reader connections (a WAL snapshot, so the page's writes are never blocked);
state changes go through the store's one writer, each answer's receipt or reason written by the
same UPDATE that moves the outbox row, and a whole batch's answers in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sync.errors import InvalidEventError
from sync.messages import DayReport
from sync.protocol import HEADER_FIELDS, EventResult, WireEvent
from sync.uploader import Health
from terminal import reader_state
from terminal.clock import SystemClock, format_utc, parse_utc
from terminal.store.database import Store
from terminal.store.writer import Txn

READER_CACHE_KB = 256
WRITER_CACHE_KB = 256
NIL_REPORT_DAYS = 7  # days reported in each heartbeat (today and the six before)


class StoreOutbox:
    """Implements sync.uploader.Outbox over a terminal Store."""

    def __init__(self, store: Store, *, timezone: str = "Asia/Shanghai",
                 synchronised: SystemClock | None = None,
                 reader_stale_after_s: float = reader_state.STALE_AFTER_S,
                 doctor: Callable[[], tuple[str, float] | None] | None = None) -> None:
        self.store = store
        self._last_doctor = doctor  # (class, Unix time) of `anju doctor`'s last full run
        self.zone = ZoneInfo(timezone)
        self._clock = synchronised
        self.reader_stale_after_s = reader_stale_after_s
        self._floor: int | None = None  # lowest seq_id that may still be pending

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with self.store.reader() as conn:
            # A small page cache: the uploader streams through the backlog once, and on a Pi
            # its memory matters more than re-reading a page (bench/bench_sync.py, RSS).
            conn.execute(f"PRAGMA cache_size = -{READER_CACHE_KB}")
            yield conn

    def pending(self, limit: int, max_bytes: int) -> list[WireEvent]:
        """Queued and sent events in sequence order ('sent' too: a crash or a failed request
        leaves rows there, and they are simply re-sent), with the superseded events between
        them travelling `withheld` (header and hashes, no payload), so the central chain has
        no gap where a stay was voided before its events left the device."""
        with self._reader() as conn:
            if self._floor is None:
                self._floor = _window_start(conn)
                if self._floor is None:
                    return []
            # The floor keeps the scan off the acknowledged history in front of the backlog.
            fetch = limit
            while True:
                rows = conn.execute(
                    f"SELECT o.state, e.seq_id, e.payload, {_HEADER_SQL}, e.payload_sha256, "
                    "e.prev_chain_sha256, e.chain_sha256 FROM events e JOIN outbox o "
                    "USING (event_id) WHERE e.seq_id >= ? "
                    "AND o.state IN ('queued', 'sent', 'superseded') ORDER BY e.seq_id LIMIT ?",
                    (self._floor, fetch)).fetchall()
                # A window of superseded rows alone must not read as "nothing pending".
                if len(rows) < fetch or any(r[0] != "superseded" for r in rows):
                    break
                fetch *= 2
        if len(rows) < fetch:
            self._floor = None  # at the end: look afresh next time (a re-queued row, say)
        while rows and rows[-1][0] == "superseded":
            rows.pop()  # they go with the pending event after them (their void, at the latest)
        events: list[WireEvent] = []
        size, pending = 0, False
        for state, seq_id, payload, *rest in rows:
            if state != "superseded":  # withheld headers are small: only payloads count
                size += len(payload or "") + 400
                if pending and size > max_bytes:
                    break
                pending = True
            if not events and self._floor is not None:
                self._floor = seq_id
            events.append(_wire(state, payload, rest))
        return events

    def mark_sent(self, event_ids: Sequence[str]) -> None:
        def work(txn: Txn) -> None:
            at = format_utc(txn.now().wall)
            txn.conn.executemany(
                "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, "
                "updated_at = ? WHERE event_id = ? AND state IN ('queued', 'sent')",
                [(at, at, e) for e in event_ids])

        self.store.writer.transaction(work)

    def record(self, results: Sequence[EventResult]) -> None:
        def work(txn: Txn) -> None:
            at = format_utc(txn.now().wall)
            delivered = [(r.receipt, at, at, r.event_id) for r in results if r.delivered]
            refused = [(r.code, r.field, (r.message or "")[:500], at, at, r.event_id)
                       for r in results if not r.delivered]
            # `AND state = 'sent'`: an answer for a row that moved on meanwhile changes nothing.
            txn.conn.executemany(
                "UPDATE outbox SET state = 'acknowledged', receipt = ?, acknowledged_at = ?, "
                "updated_at = ? WHERE event_id = ? AND state = 'sent'", delivered)
            txn.conn.executemany(
                "UPDATE outbox SET state = 'rejected', reject_code = ?, reject_field = ?, "
                "reject_message = ?, rejected_at = ?, updated_at = ? "
                "WHERE event_id = ? AND state = 'sent'", refused)

        self.store.writer.transaction(work)

    def backlog(self) -> int:
        with self._reader() as conn:
            return conn.execute("SELECT count(*) FROM outbox "
                                "WHERE state IN ('queued', 'sent')").fetchone()[0]

    def health(self, now: datetime | None = None) -> Health:
        now = now or datetime.now(UTC)
        today = now.astimezone(self.zone).date()
        first_day = today - timedelta(days=NIL_REPORT_DAYS - 1)
        since = datetime.combine(first_day, datetime.min.time(), self.zone).astimezone(UTC)
        with self._reader() as conn:
            backlog, oldest = conn.execute(
                "SELECT count(*), min(e.wall_time) FROM outbox o JOIN events e "
                "USING (event_id) WHERE o.state IN ('queued', 'sent')").fetchone()
            rejected = conn.execute(
                "SELECT count(*) FROM outbox WHERE state = 'rejected'").fetchone()[0]
            times = [parse_utc(r[0]) for r in conn.execute(
                "SELECT wall_time FROM events WHERE kind = 'check_in' AND wall_time >= ?",
                (format_utc(since),))]
            clock = self._clock or SystemClock()
            # The terminal service's last word on the reader (stale when it went silent).
            reader = reader_state.read(conn, clock.now(),
                                       stale_after_s=self.reader_stale_after_s)
        counts = {first_day + timedelta(days=i): 0 for i in range(NIL_REPORT_DAYS)}
        for at in times:
            day = at.astimezone(self.zone).date()
            if day in counts:
                counts[day] += 1
        age = max(0.0, (now - parse_utc(oldest)).total_seconds()) if oldest else None
        return Health(
            backlog=backlog, oldest_queued_age_s=age, rejected=rejected,
            disk_free_bytes=self.store.guard.free_bytes(),
            disk_min_free_bytes=self.store.guard.min_free_bytes,
            doctor=self._doctor(now),
            clock_synchronised=clock.synchronised(),
            day_reports=tuple(DayReport(d.isoformat(), n) for d, n in sorted(counts.items())),
            reader=reader)

    def _doctor(self, now: datetime) -> tuple[str, float] | None:
        found = self._last_doctor() if self._last_doctor is not None else None
        if found is None:
            return None
        klass, at = found
        return klass, min(max(0.0, now.timestamp() - at), 10 * 365 * 86400.0)

    def rejections(self) -> list[tuple[str, str | None, int]]:
        """Rejected events by (code, field): what `anju sync status` shows the technician."""
        with self._reader() as conn:
            return [(code, fld, n) for code, fld, n in conn.execute(
                "SELECT reject_code, reject_field, count(*) FROM outbox WHERE state = 'rejected' "
                "GROUP BY reject_code, reject_field ORDER BY count(*) DESC")]


def lean_writer(store: Store) -> None:
    """A small page cache on the writer connection of a store the uploader opened for itself.

    The default (2 MB) is filled by the quick check on open and then held for the whole run,
    while the uploader's writes touch a few outbox pages per batch; call it before any thread
    uses the store. SQLite frees the pages beyond the new size at once."""
    store.writer.conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KB}")


_HEADER_SQL = ", ".join(f"e.{name}" for name in HEADER_FIELDS)


def _window_start(conn: sqlite3.Connection) -> int | None:
    """Just after the last settled event before the first pending one (None: nothing pending);
    from the outbox's partial index, so the cost grows with the backlog, not the history."""
    first = conn.execute("SELECT min(e.seq_id) FROM outbox o JOIN events e USING (event_id) "
                         "WHERE o.state IN ('queued', 'sent')").fetchone()[0]
    if first is None:
        return None
    settled = conn.execute(
        "SELECT e.seq_id FROM events e JOIN outbox o USING (event_id) WHERE e.seq_id < ? "
        "AND o.state IN ('acknowledged', 'rejected') ORDER BY e.seq_id DESC LIMIT 1",
        (first,)).fetchone()
    return settled[0] + 1 if settled else 0


def _wire(state: str, payload: str | None, rest: list[object]) -> WireEvent:
    """From the stored columns: the header columns are the payload's own header (the schema
    keeps them equal, the server checks them again), so the payload is not parsed here."""
    header = dict(zip(HEADER_FIELDS, rest[:len(HEADER_FIELDS)], strict=True))
    header["clock_synchronised"] = bool(header["clock_synchronised"])
    payload_sha, prev_sha, chain_sha = rest[len(HEADER_FIELDS):]
    withheld = "superseded" if state == "superseded" else None
    if withheld is None and payload is None:
        raise InvalidEventError("pending event without payload", code="invalid_payload",
                                field="payload")  # only settled events are ever purged
    return WireEvent(**header, payload=None if withheld else payload,  # type: ignore[arg-type]
                     withheld=withheld, payload_sha256=str(payload_sha),
                     prev_chain_sha256=str(prev_sha), chain_sha256=str(chain_sha))
