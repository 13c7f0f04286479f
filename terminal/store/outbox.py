"""The outbox as the sync service drives it: queued -> sent -> acknowledged | rejected.

Every function here is one writer transaction; the schema's triggers refuse any other move, so
a bug here raises instead of, say, marking an unsent record delivered. Only `acknowledged`
(with the server's receipt) counts as delivered.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from terminal.clock import format_utc
from terminal.store.writer import Txn, Writer


@dataclass(frozen=True, slots=True)
class Pending:
    event_id: str
    device_id: str
    sequence: int
    payload: str
    payload_sha256: str
    chain_sha256: str
    prev_chain_sha256: str
    state: str


def pending(conn: sqlite3.Connection, *, limit: int = 100, states: Sequence[str] = ("queued",)
            ) -> list[Pending]:
    marks = ", ".join("?" * len(states))
    return [Pending(*row) for row in conn.execute(
        "SELECT e.event_id, e.device_id, e.sequence, e.payload, e.payload_sha256, "
        "e.chain_sha256, e.prev_chain_sha256, o.state FROM outbox o JOIN events e USING (event_id) "
        f"WHERE o.state IN ({marks}) ORDER BY e.seq_id LIMIT ?", (*states, limit))]


def _now(txn: Txn) -> str:
    return format_utc(txn.now().wall)


def mark_sent(writer: Writer, event_ids: Sequence[str]) -> None:
    def work(txn: Txn) -> None:
        at = _now(txn)
        txn.conn.executemany(
            "UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, "
            "updated_at = ? WHERE event_id = ?", [(at, at, e) for e in event_ids])

    writer.transaction(work)


def acknowledge(writer: Writer, event_id: str, receipt: str) -> None:
    def work(txn: Txn) -> None:
        at = _now(txn)
        txn.conn.execute(
            "UPDATE outbox SET state = 'acknowledged', receipt = ?, acknowledged_at = ?, "
            "updated_at = ? WHERE event_id = ?", (receipt, at, at, event_id))

    writer.transaction(work)


def reject(writer: Writer, event_id: str, *, code: str, field: str | None, message: str) -> None:
    def work(txn: Txn) -> None:
        at = _now(txn)
        txn.conn.execute(
            "UPDATE outbox SET state = 'rejected', reject_code = ?, reject_field = ?, "
            "reject_message = ?, rejected_at = ?, updated_at = ? WHERE event_id = ?",
            (code, field, message, at, at, event_id))

    writer.transaction(work)


def requeue(writer: Writer, event_id: str) -> None:
    def work(txn: Txn) -> None:
        txn.conn.execute("UPDATE outbox SET state = 'queued', updated_at = ? WHERE event_id = ?",
                         (_now(txn), event_id))

    writer.transaction(work)


def acknowledge_all(writer: Writer, receipt_prefix: str = "R") -> int:
    """Send and acknowledge everything queued: for tests, fixtures and the bench only."""
    def work(txn: Txn) -> int:
        at = _now(txn)
        ids = [r[0] for r in txn.conn.execute("SELECT event_id FROM outbox WHERE state = 'queued'")]
        for event_id in ids:
            txn.conn.execute("UPDATE outbox SET state = 'sent', sent_at = ?, updated_at = ? "
                             "WHERE event_id = ?", (at, at, event_id))
            txn.conn.execute("UPDATE outbox SET state = 'acknowledged', receipt = ?, "
                             "acknowledged_at = ?, updated_at = ? WHERE event_id = ?",
                             (f"{receipt_prefix}-{event_id}", at, at, event_id))
        return len(ids)

    return writer.transaction(work)
