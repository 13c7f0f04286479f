"""The terminal store seen through sync.uploader.Outbox (terminal -> sync, never the reverse).

Reads go through reader connections (a WAL snapshot, so the page's writes are never blocked);
state changes go through the store's one writer, each answer's receipt or reason written by the
same UPDATE that moves the outbox row, and a whole batch's answers in one transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sync.messages import DayReport
from sync.protocol import EventResult, WireEvent
from sync.uploader import Health
from terminal.clock import SystemClock, format_utc, parse_utc
from terminal.store.database import Store
from terminal.store.writer import Txn

READER_CACHE_KB = 256
NIL_REPORT_DAYS = 7  # days reported in each heartbeat (today and the six before)


class StoreOutbox:
    """Implements sync.uploader.Outbox over a terminal Store."""

    def __init__(self, store: Store, *, timezone: str = "Asia/Shanghai",
                 synchronised: SystemClock | None = None) -> None:
        self.store = store
        self.zone = ZoneInfo(timezone)
        self._clock = synchronised
        self._floor: int | None = None  # lowest seq_id that may still be pending

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        with self.store.reader() as conn:
            # A small page cache: the uploader streams through the backlog once, and on a Pi
            # its memory matters more than re-reading a page (bench/bench_sync.py, RSS).
            conn.execute(f"PRAGMA cache_size = -{READER_CACHE_KB}")
            yield conn

    def pending(self, limit: int, max_bytes: int) -> list[WireEvent]:
        # 'sent' too: a crash or a failed request leaves rows there; they are simply re-sent.
        events: list[WireEvent] = []
        size = 0
        with self._reader() as conn:
            if self._floor is None:
                # From the outbox's partial index: cost grows with the backlog, not history.
                self._floor = conn.execute(
                    "SELECT min(e.seq_id) FROM outbox o JOIN events e USING (event_id) "
                    "WHERE o.state IN ('queued', 'sent')").fetchone()[0] or 0
            # The floor keeps the scan off the acknowledged history in front of the backlog.
            rows = conn.execute(
                "SELECT e.seq_id, e.payload, e.payload_sha256, e.prev_chain_sha256, "
                "e.chain_sha256 FROM events e JOIN outbox o USING (event_id) "
                "WHERE e.seq_id >= ? AND o.state IN ('queued', 'sent') ORDER BY e.seq_id "
                "LIMIT ?", (self._floor, limit)).fetchall()
        for seq_id, payload, payload_sha, prev_sha, chain_sha in rows:
            size += len(payload) + 400  # header and hashes as they travel
            if events and size > max_bytes:
                break
            if not events:
                self._floor = seq_id
            events.append(WireEvent.from_stored(
                payload, payload_sha256=payload_sha, prev_chain_sha256=prev_sha,
                chain_sha256=chain_sha))
        if len(rows) < limit:
            self._floor = None  # at the end: look afresh next time (a re-queued row, say)
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
        counts = {first_day + timedelta(days=i): 0 for i in range(NIL_REPORT_DAYS)}
        for at in times:
            day = at.astimezone(self.zone).date()
            if day in counts:
                counts[day] += 1
        age = max(0.0, (now - parse_utc(oldest)).total_seconds()) if oldest else None
        clock = self._clock or SystemClock()
        return Health(
            backlog=backlog, oldest_queued_age_s=age, rejected=rejected,
            disk_free_bytes=self.store.guard.free_bytes(),
            clock_synchronised=clock.synchronised(),
            day_reports=tuple(DayReport(d.isoformat(), n) for d, n in sorted(counts.items())))

    def rejections(self) -> list[tuple[str, str | None, int]]:
        """Rejected events by (code, field): what `anju sync status` shows the technician."""
        with self._reader() as conn:
            return [(code, fld, n) for code, fld, n in conn.execute(
                "SELECT reject_code, reject_field, count(*) FROM outbox WHERE state = 'rejected' "
                "GROUP BY reject_code, reject_field ORDER BY count(*) DESC")]
