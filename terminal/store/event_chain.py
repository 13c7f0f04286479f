"""Appending events to the per-device hash chain, and reading them back.

The sequence and previous chain hash are read inside the writer's transaction (BEGIN
IMMEDIATE holds the write lock), never cached across transactions, so a rolled-back write
cannot leave a stale counter behind; the `events_gapless` trigger re-checks both in SQL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from sync.fields import format_utc
from terminal.config import DeviceIdentity
from terminal.domain.events import GENESIS, Event, Kind, chain_hash, sha256_hex
from terminal.system.clock import Instant
from terminal.system.ids import new_id

HEADER_COLUMNS = ("event_id", "device_id", "site_code", "sequence", "kind", "stay_id",
                  "target_event_id", "wall_time", "clock_synchronised", "monotonic_ns", "boot_id",
                  "operator")
ROW_COLUMNS = (*HEADER_COLUMNS, "payload", "payload_sha256", "prev_chain_sha256", "chain_sha256",
               "purged_at", "seq_id")
_INSERT = (
    f"INSERT INTO events ({', '.join(ROW_COLUMNS[:-2])}) "
    f"VALUES ({', '.join('?' * (len(ROW_COLUMNS) - 2))})"
)


def chain_head(conn: sqlite3.Connection, device_id: str) -> tuple[int, str]:
    row = conn.execute(
        "SELECT sequence, chain_sha256 FROM events WHERE device_id = ? "
        "ORDER BY sequence DESC LIMIT 1", (device_id,),
    ).fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)


def append(
    conn: sqlite3.Connection,
    identity: DeviceIdentity,
    instant: Instant,
    *,
    kind: Kind,
    stay_id: str,
    data: dict[str, Any],
    operator: str,
    target_event_id: str | None = None,
    event_id: str | None = None,
) -> Event:
    """Insert one event at the head of this device's chain (caller holds the transaction)."""
    sequence, previous = chain_head(conn, identity.device_id)
    event = Event(
        event_id=event_id or new_id(), device_id=identity.device_id,
        site_code=identity.site_code, sequence=sequence + 1, kind=kind, stay_id=stay_id,
        target_event_id=target_event_id, wall_time=format_utc(instant.wall),
        clock_synchronised=instant.synchronised, monotonic_ns=instant.monotonic_ns,
        boot_id=instant.boot_id, operator=operator, data=data,
    )
    payload = event.payload()
    payload_hash = sha256_hex(payload)
    conn.execute(_INSERT, (
        *header_values(event), payload, payload_hash, previous,
        chain_hash(event.sequence, previous, payload_hash),
    ))
    return event


def header_values(event: Event) -> tuple[Any, ...]:
    return (event.event_id, event.device_id, event.site_code, event.sequence, event.kind.value,
            event.stay_id, event.target_event_id, event.wall_time, int(event.clock_synchronised),
            event.monotonic_ns, event.boot_id, event.operator)


def event_header(conn: sqlite3.Connection, event_id: str) -> Event | None:
    """One event's header (its payload left out: `data` is None), or None if there is none."""
    row = conn.execute(f"SELECT {', '.join(HEADER_COLUMNS)} FROM events WHERE event_id = ?",
                       (event_id,)).fetchone()
    if row is None:
        return None
    header = dict(zip(HEADER_COLUMNS, row, strict=True))
    return Event(**{**header, "kind": Kind(header["kind"]),
                    "clock_synchronised": bool(header["clock_synchronised"]), "data": None})


def event_from_row(row: sqlite3.Row | tuple[Any, ...]) -> Event:
    """The event as stored: from its payload when present, else from the header columns."""
    values = dict(zip(ROW_COLUMNS, row, strict=True))
    if values["payload"] is not None:
        return Event.from_payload(values["payload"])
    return Event(
        **{k: values[k] for k in HEADER_COLUMNS if k not in ("kind", "clock_synchronised")},
        kind=Kind(values["kind"]), clock_synchronised=bool(values["clock_synchronised"]),
        data=None,
    )


def iter_rows(
    conn: sqlite3.Connection, where: str = "", params: tuple[Any, ...] = ()
) -> Iterator[tuple[Any, ...]]:
    sql = f"SELECT {', '.join(ROW_COLUMNS)} FROM events {where} ORDER BY seq_id"
    yield from conn.execute(sql, params)


def stay_events(conn: sqlite3.Connection, stay_id: str) -> list[Event]:
    return [event_from_row(r) for r in iter_rows(conn, "WHERE stay_id = ?", (stay_id,))]


def newest_synchronised_wall_time(conn: sqlite3.Connection) -> str | None:
    """The stored wall time of the newest event written with a synchronised clock (by sequence,
    not by time), or None."""
    row = conn.execute(
        "SELECT wall_time FROM events WHERE clock_synchronised = 1 ORDER BY seq_id DESC LIMIT 1"
    ).fetchone()
    return row[0] if row else None
