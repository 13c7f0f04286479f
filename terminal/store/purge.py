"""Retention: a stay's personal data (event payloads, photos) goes N days after it ended.

Only stays that are over (checked out or voided), ended at least `retention_days` ago, and whose
every event the server acknowledged (or a void superseded) are purged; the schema refuses to
purge an unacknowledged event in any case. Hashes and headers stay, so the chain still verifies.
The log gets counts only, never what was purged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sync.fields import format_utc
from terminal.domain.stays import Stay
from terminal.store import stay_views
from terminal.store.database import Store
from terminal.store.writer import Txn

log = logging.getLogger(__name__)

_CANDIDATES = """
SELECT s.stay_id FROM stay_view s
WHERE s.purged = 0 AND s.status <> 'in_house' AND s.ended_at <= ?
  AND NOT EXISTS (SELECT 1 FROM events e JOIN outbox o ON o.event_id = e.event_id
                  WHERE e.stay_id = s.stay_id AND o.state NOT IN ('acknowledged', 'superseded'))
"""


@dataclass(frozen=True, slots=True)
class PurgeResult:
    stays: int
    events: int
    payload_bytes: int


def purge(store: Store, *, retention_days: int, now: datetime | None = None) -> PurgeResult:
    now = now or datetime.now(UTC)
    cutoff = format_utc(now - timedelta(days=retention_days))
    at = format_utc(now)

    def work(txn: Txn) -> PurgeResult:
        stay_ids = [r[0] for r in txn.conn.execute(_CANDIDATES, (cutoff,))]
        events = payload_bytes = 0
        for stay_id in stay_ids:
            size, count = txn.conn.execute(
                "SELECT COALESCE(SUM(length(CAST(payload AS BLOB))), 0), COUNT(*) FROM events "
                "WHERE stay_id = ? AND payload IS NOT NULL", (stay_id,)).fetchone()
            txn.conn.execute("UPDATE events SET payload = NULL, purged_at = ? "
                             "WHERE stay_id = ? AND payload IS NOT NULL", (at, stay_id))
            stay: Stay | None = txn.load_stay(stay_id)
            if stay is not None:
                txn.conn.execute("DELETE FROM guest_view WHERE stay_id = ?", (stay_id,))
                stay_views.write(txn.conn, stay)
            events += count
            payload_bytes += size
        result = PurgeResult(len(stay_ids), events, payload_bytes)
        if stay_ids:
            txn.conn.execute(
                "INSERT INTO purge_log (purged_at, retention_days, stays, events, payload_bytes) "
                "VALUES (?, ?, ?, ?, ?)", (at, retention_days, *_fields(result)))
        return result

    result = store.writer.transaction(work)
    if result.stays:
        # The WAL still holds the old page images until a checkpoint; truncate it so purged
        # data does not linger there (secure_delete already zeroes the freed database pages).
        store.writer.checkpoint()
    log.info("purge: %d stays, %d events, %d payload bytes (retention %d days)",
             result.stays, result.events, result.payload_bytes, retention_days)
    return result


def _fields(result: PurgeResult) -> tuple[int, int, int]:
    return result.stays, result.events, result.payload_bytes
