"""The outbox: the one owner of its states, its SQL and its summary.

    queued ──mark_sent──> sent ──record──> acknowledged (with the server's receipt)
      │                    │  └──record──> rejected (code, field, message: the clerk sees it)
      │                    └──mark_sent──> sent (re-sent: at-least-once)
      └──supersede_pending (a void)──> superseded (travels withheld: header and hashes only)

`OutboxState` names the states (the schema's CHECK and transition trigger refuse any other move,
terminal/store/schema.py keeps the frozen list its migrations were written with); `summary`
is the one backlog/rejected count the uploader's heartbeat, the page's status bar and the CLI
read; `StoreOutbox` is the store seen through sync.uploader.Outbox (terminal -> sync, never the
reverse).

Reads go through reader connections (a WAL snapshot, so the page's writes are never blocked);
state changes go through the store's one writer, each answer's receipt or reason written by the
same statement that moves the outbox row, and a whole batch's answers in one transaction. Every
change names the states it may start from, so an answer for a row that moved on meanwhile
changes nothing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sync.errors import InvalidEventError
from sync.fields import format_utc, parse_utc
from sync.messages import DayReport
from sync.protocol import HEADER_FIELDS, EventResult, WireEvent
from sync.uploader import Health
from terminal.store import reader_state
from terminal.system.clock import SystemClock

if TYPE_CHECKING:
    from terminal.store.database import Store
    from terminal.store.writer import Txn

READER_CACHE_KB = 256
WRITER_CACHE_KB = 256
NIL_REPORT_DAYS = 7  # days reported in each heartbeat (today and the six before)


class OutboxState(StrEnum):
    QUEUED = "queued"  # written with its event, not sent yet
    SENT = "sent"  # in a request that has not been answered (re-sent until it is)
    ACKNOWLEDGED = "acknowledged"  # the server's receipt is kept: delivered
    REJECTED = "rejected"  # refused with code, field and message: the clerk corrects it
    SUPERSEDED = "superseded"  # voided before it left: travels withheld, never with a payload


PENDING = (OutboxState.QUEUED, OutboxState.SENT)  # the backlog: not answered yet
SETTLED = (OutboxState.ACKNOWLEDGED, OutboxState.REJECTED)  # answered by the server
DONE = (OutboxState.ACKNOWLEDGED, OutboxState.SUPERSEDED)  # nothing more will happen


def states_sql(states: Iterable[OutboxState]) -> str:
    """An SQL list of states, `('queued', 'sent')`: enum values only, never user input."""
    return "(" + ", ".join(f"'{OutboxState(s).value}'" for s in states) + ")"


_PENDING_SQL = states_sql(PENDING)


@dataclass(frozen=True, slots=True)
class OutboxSummary:
    """The counts every reader of the outbox shows: the heartbeat, the status bar, the CLI."""

    backlog: int  # queued or sent: not delivered yet
    oldest: datetime | None  # wall time of the oldest event in the backlog
    rejected: int

    def oldest_age_s(self, now: datetime) -> float | None:
        return max(0.0, (now - self.oldest).total_seconds()) if self.oldest else None


def summary(conn: sqlite3.Connection) -> OutboxSummary:
    """From the outbox's partial index: cheap enough for every status tick of every page."""
    backlog, oldest = conn.execute(
        "SELECT count(*), min(e.wall_time) FROM outbox o JOIN events e USING (event_id) "
        f"WHERE o.state IN {_PENDING_SQL}").fetchone()
    rejected = count(conn, OutboxState.REJECTED)
    return OutboxSummary(backlog, parse_utc(oldest) if oldest else None, rejected)


def count(conn: sqlite3.Connection, state: OutboxState) -> int:
    return conn.execute("SELECT count(*) FROM outbox WHERE state = ?",
                        (OutboxState(state).value,)).fetchone()[0]


def undelivered_ids(conn: sqlite3.Connection) -> set[str]:
    """Events not yet acknowledged by the server (queued or sent)."""
    return {r[0] for r in conn.execute(
        f"SELECT event_id FROM outbox WHERE state IN {_PENDING_SQL}")}


def rejected_events(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """(event_id, code, message) of every rejected event, for the technician's bundle."""
    return [(r[0], r[1], r[2]) for r in conn.execute(
        "SELECT event_id, reject_code, reject_message FROM outbox WHERE state = ?",
        (OutboxState.REJECTED.value,))]


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """One event's outbox row, as the page's lists summarise it per stay."""

    stay_id: str
    state: OutboxState
    receipt: str | None
    reject_code: str | None
    reject_field: str | None
    reject_message: str | None
    acknowledged_at: str | None


def delivery_rows(conn: sqlite3.Connection, stay_ids: Sequence[str]) -> list[DeliveryRow]:
    """Every event's outbox row of these stays, in sequence order."""
    if not stay_ids:
        return []
    marks = ",".join("?" * len(stay_ids))
    rows = conn.execute(
        "SELECT e.stay_id, o.state, o.receipt, o.reject_code, o.reject_field, o.reject_message, "
        "o.acknowledged_at "
        f"FROM events e JOIN outbox o USING (event_id) WHERE e.stay_id IN ({marks}) "
        "ORDER BY e.seq_id", list(stay_ids))
    return [DeliveryRow(stay_id, OutboxState(state), *rest) for stay_id, state, *rest in rows]


def supersede_pending(conn: sqlite3.Connection, stay_id: str, void_event_id: str) -> int:
    """Inside the void's transaction: the stay's unsent (or rejected) events will never be
    delivered with their payload; they travel withheld. Returns how many rows moved."""
    cursor = conn.execute(
        "UPDATE outbox SET state = ?, superseded_by = ?, updated_at = "
        "(SELECT wall_time FROM events WHERE event_id = ?) "
        f"WHERE state IN {states_sql((OutboxState.QUEUED, OutboxState.REJECTED))} "
        "AND event_id IN (SELECT event_id FROM events WHERE stay_id = ? AND event_id <> ?)",
        (OutboxState.SUPERSEDED.value, void_event_id, void_event_id, stay_id, void_event_id),
    )
    return cursor.rowcount


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
                    f"USING (event_id) WHERE e.seq_id >= ? AND o.state IN {_WINDOW_SQL} "
                    "ORDER BY e.seq_id LIMIT ?",
                    (self._floor, fetch)).fetchall()
                # A window of superseded rows alone must not read as "nothing pending".
                if len(rows) < fetch or any(r[0] != OutboxState.SUPERSEDED for r in rows):
                    break
                fetch *= 2
        if len(rows) < fetch:
            self._floor = None  # at the end: look afresh next time (a re-queued row, say)
        while rows and rows[-1][0] == OutboxState.SUPERSEDED:
            rows.pop()  # they go with the pending event after them (their void, at the latest)
        events: list[WireEvent] = []
        size, pending = 0, False
        for state, seq_id, payload, *rest in rows:
            if state != OutboxState.SUPERSEDED:  # withheld headers are small: only payloads count
                size += len(payload or "") + 400
                if pending and size > max_bytes:
                    break
                pending = True
            if not events and self._floor is not None:
                self._floor = seq_id
            events.append(_wire(state, payload, rest))
        return events

    def mark_sent(self, event_ids: Sequence[str]) -> None:
        """Queued (or already sent) rows only: an acknowledged or rejected row stays as it is."""
        def work(txn: Txn) -> None:
            at = format_utc(txn.now().wall)
            txn.conn.executemany(
                "UPDATE outbox SET state = ?, sent_at = ?, attempts = attempts + 1, "
                f"updated_at = ? WHERE event_id = ? AND state IN {_PENDING_SQL}",
                [(OutboxState.SENT.value, at, at, e) for e in event_ids])

        self.store.writer.transaction(work)

    def record(self, results: Sequence[EventResult]) -> None:
        def work(txn: Txn) -> None:
            at = format_utc(txn.now().wall)
            sent = OutboxState.SENT.value
            delivered = [(OutboxState.ACKNOWLEDGED.value, r.receipt, at, at, r.event_id, sent)
                         for r in results if r.delivered]
            refused = [(OutboxState.REJECTED.value, r.code, r.field, (r.message or "")[:500], at,
                        at, r.event_id, sent) for r in results if not r.delivered]
            # `AND state = 'sent'`: an answer for a row that moved on meanwhile changes nothing.
            txn.conn.executemany(
                "UPDATE outbox SET state = ?, receipt = ?, acknowledged_at = ?, "
                "updated_at = ? WHERE event_id = ? AND state = ?", delivered)
            txn.conn.executemany(
                "UPDATE outbox SET state = ?, reject_code = ?, reject_field = ?, "
                "reject_message = ?, rejected_at = ?, updated_at = ? "
                "WHERE event_id = ? AND state = ?", refused)

        self.store.writer.transaction(work)

    def backlog(self) -> int:
        with self._reader() as conn:
            return conn.execute(
                f"SELECT count(*) FROM outbox WHERE state IN {_PENDING_SQL}").fetchone()[0]

    def health(self, now: datetime | None = None) -> Health:
        now = now or datetime.now(UTC)
        today = now.astimezone(self.zone).date()
        first_day = today - timedelta(days=NIL_REPORT_DAYS - 1)
        since = datetime.combine(first_day, datetime.min.time(), self.zone).astimezone(UTC)
        with self._reader() as conn:
            counts = summary(conn)
            times = [parse_utc(r[0]) for r in conn.execute(
                "SELECT wall_time FROM events WHERE kind = 'check_in' AND wall_time >= ?",
                (format_utc(since),))]
            clock = self._clock or SystemClock()
            # The terminal service's last word on the reader (stale when it went silent).
            reader = reader_state.read(conn, clock.now(),
                                       stale_after_s=self.reader_stale_after_s)
        days = {first_day + timedelta(days=i): 0 for i in range(NIL_REPORT_DAYS)}
        for at in times:
            day = at.astimezone(self.zone).date()
            if day in days:
                days[day] += 1
        return Health(
            backlog=counts.backlog, oldest_queued_age_s=counts.oldest_age_s(now),
            rejected=counts.rejected,
            disk_free_bytes=self.store.guard.free_bytes(),
            disk_min_free_bytes=self.store.guard.min_free_bytes,
            doctor=self._doctor(now),
            clock_synchronised=clock.synchronised(),
            day_reports=tuple(DayReport(d.isoformat(), n) for d, n in sorted(days.items())),
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
                "SELECT reject_code, reject_field, count(*) FROM outbox WHERE state = ? "
                "GROUP BY reject_code, reject_field ORDER BY count(*) DESC",
                (OutboxState.REJECTED.value,))]


def lean_writer(store: Store) -> None:
    """A small page cache on the writer connection of a store the uploader opened for itself.

    The default (2 MB) is filled by the quick check on open and then held for the whole run,
    while the uploader's writes touch a few outbox pages per batch; call it before any thread
    uses the store. SQLite frees the pages beyond the new size at once."""
    store.writer.conn.execute(f"PRAGMA cache_size = -{WRITER_CACHE_KB}")


_HEADER_SQL = ", ".join(f"e.{name}" for name in HEADER_FIELDS)
_WINDOW_SQL = states_sql((*PENDING, OutboxState.SUPERSEDED))  # what pending() walks through


def _window_start(conn: sqlite3.Connection) -> int | None:
    """Just after the last settled event before the first pending one (None: nothing pending);
    from the outbox's partial index, so the cost grows with the backlog, not the history."""
    first = conn.execute("SELECT min(e.seq_id) FROM outbox o JOIN events e USING (event_id) "
                         f"WHERE o.state IN {_PENDING_SQL}").fetchone()[0]
    if first is None:
        return None
    settled = conn.execute(
        "SELECT e.seq_id FROM events e JOIN outbox o USING (event_id) WHERE e.seq_id < ? "
        f"AND o.state IN {states_sql(SETTLED)} ORDER BY e.seq_id DESC LIMIT 1",
        (first,)).fetchone()
    return settled[0] + 1 if settled else 0


def _wire(state: str, payload: str | None, rest: list[object]) -> WireEvent:
    """From the stored columns: the header columns are the payload's own header (the schema
    keeps them equal, the server checks them again), so the payload is not parsed here."""
    header = dict(zip(HEADER_FIELDS, rest[:len(HEADER_FIELDS)], strict=True))
    header["clock_synchronised"] = bool(header["clock_synchronised"])
    payload_sha, prev_sha, chain_sha = rest[len(HEADER_FIELDS):]
    withheld = "superseded" if state == OutboxState.SUPERSEDED else None
    if withheld is None and payload is None:
        raise InvalidEventError("pending event without payload", code="invalid_payload",
                                field="payload")  # only settled events are ever purged
    return WireEvent(**header, payload=None if withheld else payload,  # type: ignore[arg-type]
                     withheld=withheld, payload_sha256=str(payload_sha),
                     prev_chain_sha256=str(prev_sha), chain_sha256=str(chain_sha))
