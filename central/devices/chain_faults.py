"""Per-device sequence and hash-chain checks on ingest: faults are recorded, never refused.

Runs inside the ingest transaction after the batch's new events were inserted, holding the
device's row lock, so neighbours inserted by this batch are visible and no other batch of the
same device interleaves. Each fault names the device and a sequence range:

    gap    first..last sequences not (yet) stored; resolved_at is set when they arrive
           (a partly filled gap is resolved and its remainders recorded, with the original
           detected_at, so the history of what was missing when stays visible)
    link   last's prev_chain_sha256 is not first's chain_sha256 (checked whenever both exist,
           whatever order they arrived in)
    hash   the event's chain_sha256 does not follow from its own sequence, prev_chain_sha256
           and payload_sha256 (or sequence 1 does not start from GENESIS)
    fork   two different events with the same device and sequence

A rejected event is not stored, so its sequence shows as a gap: the terminal keeps it as a
dead letter and the gap tells the police side that something is missing there.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from central.db import bulk
from central.db.driver import Statement
from central.db.tables import chain_faults, events
from sync.protocol import WireEvent

log = logging.getLogger(__name__)
_OPEN_GAPS = Statement(select(chain_faults).where(
    chain_faults.c.device_id == bindparam("device_id"), chain_faults.c.kind == "gap",
    chain_faults.c.resolved_at.is_(None)))


def check(conn: Connection, device_id: str, stored: Sequence[WireEvent], max_sequence: int,
          now: str) -> int:
    """Record the faults the newly stored events reveal; returns the new highest sequence."""
    if not stored:
        return max_sequence
    faults: dict[tuple[str, int, int, str | None], str] = {}
    neighbours = _neighbours(conn, device_id, {e.sequence for e in stored})
    for event in stored:
        seq = event.sequence
        if not event.chain_consistent:
            faults["hash", seq, seq, event.event_id] = (
                "chain_sha256 does not follow from sequence, prev_chain_sha256, payload_sha256")
        if any(other_id != event.event_id for other_id, _, _ in neighbours[seq]):
            faults["fork", seq, seq, event.event_id] = "another event has the same sequence"
        for _, _, chain in neighbours[seq - 1]:
            if chain != event.prev_chain_sha256:
                faults["link", seq - 1, seq, event.event_id] = (
                    "prev_chain_sha256 is not the chain hash of the previous event")
        for next_id, prev_chain, _ in neighbours[seq + 1]:
            if prev_chain != event.chain_sha256:
                faults["link", seq, seq + 1, next_id] = (
                    "prev_chain_sha256 is not the chain hash of the previous event")
    rows = [{"device_id": device_id, "kind": kind, "first_sequence": first,
             "last_sequence": last, "event_id": event_id, "detected_at": now, "resolved_at": None,
             "detail": detail}
            for (kind, first, last, event_id), detail in faults.items()]
    max_sequence, gap_rows = _gaps(conn, device_id, sorted({e.sequence for e in stored}),
                                   max_sequence, now)
    rows += gap_rows
    if rows:
        conn.execute(insert(chain_faults), rows)
        for row in rows:
            log.warning("device %s: chain %s at sequence %d..%d", device_id, row["kind"],
                        row["first_sequence"], row["last_sequence"])
    return max_sequence


def _neighbours(conn: Connection, device_id: str, sequences: set[int]
                ) -> defaultdict[int, list[tuple[str, str, str]]]:
    wanted = {s + d for s in sequences for d in (-1, 0, 1)}
    found: defaultdict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for row in bulk.select_any(
            conn, [events.c.sequence, events.c.event_id, events.c.prev_chain_sha256,
                   events.c.chain_sha256],
            events.c.sequence, wanted, equal={events.c.device_id: device_id}):
        found[row.sequence].append((row.event_id, row.prev_chain_sha256, row.chain_sha256))
    return found


def _gaps(conn: Connection, device_id: str, sequences: list[int], max_sequence: int, now: str
          ) -> tuple[int, list[dict[str, Any]]]:
    open_gaps = [r._asdict() for r in _OPEN_GAPS.rows(conn, {"device_id": device_id})]
    for seq in sequences:  # ascending: a gap opened here is never filled later in this loop
        if seq > max_sequence + 1:
            open_gaps.append(_gap(device_id, max_sequence + 1, seq - 1, now,
                                  f"sequences {max_sequence + 1}..{seq - 1} not received"))
        if seq > max_sequence:
            max_sequence = seq
            continue
        for gap in open_gaps:
            if gap["resolved_at"] is None and gap["first_sequence"] <= seq <= gap["last_sequence"]:
                gap["resolved_at"] = now
                first, last, seen = gap["first_sequence"], gap["last_sequence"], gap["detected_at"]
                for lo, hi in ((first, seq - 1), (seq + 1, last)):
                    if lo <= hi:
                        open_gaps.append(_gap(device_id, lo, hi, seen,
                                              f"remainder of gap {first}..{last}"))
                break
    resolved = [g["id"] for g in open_gaps if g["id"] is not None and g["resolved_at"] == now]
    if resolved:  # one update for the batch
        conn.execute(update(chain_faults).where(chain_faults.c.id.in_(resolved))
                     .values(resolved_at=now))
    # New gaps (no id yet) still open at the end of the batch are recorded.
    return max_sequence, [{k: v for k, v in g.items() if k != "id"} for g in open_gaps
                          if g["id"] is None and g["resolved_at"] is None]


def _gap(device_id: str, first: int, last: int, detected_at: str, detail: str) -> dict[str, Any]:
    return {"id": None, "device_id": device_id, "kind": "gap", "first_sequence": first,
            "last_sequence": last, "event_id": None, "detected_at": detected_at,
            "resolved_at": None, "detail": detail}
