"""POST /api/v1/events: store a batch idempotently, answer each event on its own.

One transaction per batch, holding the device's row lock (FOR UPDATE on PostgreSQL; SQLite's
BEGIN IMMEDIATE serialises all writers), so two attempts of the same batch never interleave.
For each event, in batch order:

    malformed (schema, payload hash, header vs payload)   rejected  code, field, message
    not storable (control character, type, length, depth) rejected  (central/devices/storable.py)
    device_id / site_code not the authenticated device's  rejected  wrong_device / wrong_site
    event_id stored already, same payload and chain hash  duplicate receipt of the first store
    event_id stored already, different hashes             rejected  id_conflict
    stay, or target_event_id, of another device           rejected  foreign_stay / _target
    otherwise                                             accepted  new receipt

Ownership (central/stays/ownership.py): the first device to write a stay_id owns the stay.

Accepted events are inserted with the server's receive time, the measured clock offset and a
corrected time (central/devices/event_time.py); then the chain is checked and faults recorded
(central/devices/chain_faults.py), and the stays they touch are folded again
(central/stays/state.py); last, each stored event gets its record in the change feed
(central/feed/log.py). The sequence and chain are never reasons to refuse: storing wins, the fault
is listed.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, select, update

from central import payloads
from central.clock import utc_now
from central.db import bulk
from central.db.driver import Statement
from central.db.tables import devices, events
from central.devices import chain_faults, event_time, storable
from central.devices.authentication import Device
from central.errors import ForbiddenError
from central.feed import log as feed
from central.stays import state
from central.stays.ownership import Ownership
from sync.errors import InvalidEventError
from sync.fields import format_utc
from sync.protocol import (
    ACCEPTED,
    DUPLICATE,
    REJECTED,
    BatchAnswer,
    BatchEnvelope,
    EventResult,
    WireEvent,
)

log = logging.getLogger(__name__)
_LOCK_DEVICE = Statement(select(devices.c.max_sequence)
                         .where(devices.c.device_id == bindparam("device_id")).with_for_update())
# (An UPDATE's parameters must not be named as its table's columns: SQLAlchemy would SET them.)
_DEVICE_SEEN = Statement(update(devices).where(devices.c.device_id == bindparam("device"))
                         .values(last_seen_at=bindparam("now"),
                                 clock_offset_ms=bindparam("offset"),
                                 max_sequence=bindparam("top"),
                                 events_stored=devices.c.events_stored + bindparam("stored")))


def check_sender(device: Device, device_id: str, site_code: str) -> None:
    """The body must speak for the authenticated device and its own site (else 403)."""
    if device_id != device.device_id:
        raise ForbiddenError(f"device {device.device_id} cannot write as {device_id}",
                             code="wrong_device")
    if site_code != device.site_code:
        raise ForbiddenError(f"device {device.device_id} belongs to site {device.site_code}, "
                             f"not {site_code}", code="wrong_site")


def ingest(engine: Engine, device: Device, batch: BatchEnvelope, received: datetime
           ) -> BatchAnswer:
    parsed: dict[str, dict[str, Any]] = {}  # payload -> its data, as checked (fold, feed)
    with payloads.parsed_once(parsed):
        return _ingest(engine, device, batch, received, parsed)


def _ingest(engine: Engine, device: Device, batch: BatchEnvelope, received: datetime,
            parsed: dict[str, dict[str, Any]]) -> BatchAnswer:
    check_sender(device, batch.device_id, batch.site_code)
    now = format_utc(received)
    offset = event_time.offset_ms(batch.clock, received)
    valid = [e for e in batch.events if isinstance(e, WireEvent)]
    with engine.begin() as conn:
        [(max_sequence,)] = _LOCK_DEVICE.rows(conn, {"device_id": device.device_id})
        event_time.record_anchor(conn, device.device_id, batch.clock, received)
        anchors = event_time.load_anchors(conn, device.device_id, (e.boot_id for e in valid))
        known, targets = _lookup(conn, valid)
        owned = Ownership.claim(conn, device, valid, now, targets)
        results: list[EventResult] = []
        rows: list[dict[str, Any]] = []
        stored: list[WireEvent] = []
        receipts = _receipts(len(valid))
        arrived = utc_now()  # "now" of the time corrections: one reading for the batch
        for item, raw_id in zip(batch.events, batch.raw_ids, strict=True):
            result, row = _one(device, item, raw_id, known, receipts, parsed)
            if row is not None:
                assert isinstance(item, WireEvent)
                refusal = owned.check(item, now)
                if refusal is not None:  # not stored: a later copy is no duplicate of it
                    known.pop(item.event_id)
                    result, row = refusal, None
            results.append(result)
            if row is not None:
                assert isinstance(item, WireEvent)
                row["corrected_time"], row["time_source"] = event_time.corrected_time(item, anchors,
                                                                                arrived)
                row.update(received_at=now, clock_offset_ms=offset,
                           stay_month=owned.months[item.stay_id])
                rows.append(row)
                stored.append(item)
        bulk.insert_rows(conn, events, rows)
        owned.keep_refused(conn)
        max_sequence = chain_faults.check(conn, device.device_id, stored, max_sequence, now)
        fresh: dict[str, list[dict[str, Any]]] = {s: [] for s in owned.new}
        for row in rows:
            if row["stay_id"] in fresh:
                fresh[row["stay_id"]].append(row)
        folded = state.refold(conn, {e.stay_id for e in stored}, now, owned.owners, fresh)
        _DEVICE_SEEN.rows(conn, {"device": device.device_id, "now": now, "offset": offset,
                                 "top": max_sequence, "stored": len(rows)})
        # Last: takes the feed's commit-order lock (docs/feed.md).
        feed.record(conn, stored, now, folded)
    rejected = sum(r.status == REJECTED for r in results)
    log.info("device %s: %d accepted, %d duplicate, %d rejected", device.device_id, len(rows),
             len(results) - len(rows) - rejected, rejected)
    return BatchAnswer(now, offset, tuple(results))


def _lookup(conn: Any, batch: list[WireEvent]
            ) -> tuple[dict[str, tuple[str, str, str, str]], dict[str, tuple[str, str]]]:
    """One read for the batch's stored events and the events its events target:
    event_id -> (payload_sha256, chain_sha256, device_id, receipt) of those stored already,
    and target event_id -> (device_id, stay_id) for the ownership checks."""
    ids = {e.event_id for e in batch}
    target_ids = {e.target_event_id for e in batch if e.target_event_id}
    known: dict[str, tuple[str, str, str, str]] = {}
    targets: dict[str, tuple[str, str]] = {}
    for row in bulk.select_any(
            conn, [events.c.event_id, events.c.payload_sha256, events.c.chain_sha256,
                   events.c.device_id, events.c.receipt, events.c.stay_id],
            events.c.event_id, ids | target_ids):
        if row.event_id in ids:
            known[row.event_id] = (row.payload_sha256, row.chain_sha256, row.device_id,
                                   row.receipt)
        if row.event_id in target_ids:
            targets[row.event_id] = (row.device_id, row.stay_id)
    return known, targets


def _receipts(count: int) -> Iterator[str]:
    """`count` new receipts ("R" and 24 hex digits), from one read of the system's random
    source (a read per event was a system call, and a GIL handover, per event)."""
    digits = secrets.token_hex(12 * count)
    return iter(["R" + digits[i:i + 24] for i in range(0, len(digits), 24)])


def _one(device: Device, item: WireEvent | InvalidEventError, raw_id: str | None,
         known: dict[str, tuple[str, str, str, str]], receipts: Iterator[str],
         parsed: dict[str, dict[str, Any]]) -> tuple[EventResult, dict[str, Any] | None]:
    if isinstance(item, InvalidEventError):
        return _rejected(raw_id, item.code, _local(item.field), item.message), None
    event = item
    if event.device_id != device.device_id:
        return _rejected(event.event_id, "wrong_device", "device_id",
                         f"event of device {event.device_id}, sent by {device.device_id}"), None
    if event.site_code != device.site_code:
        return _rejected(event.event_id, "wrong_site", "site_code",
                         f"device {device.device_id} writes for site {device.site_code} only"
                         ), None
    previous = known.get(event.event_id)
    if previous is not None:
        payload_sha, chain_sha, device_id, receipt = previous
        if (payload_sha, chain_sha, device_id) == (event.payload_sha256, event.chain_sha256,
                                                   event.device_id):
            return EventResult(event.event_id, DUPLICATE, receipt=receipt), None
        return _rejected(event.event_id, "id_conflict", "event_id",
                         "an event with this id and different hashes is stored already"), None
    try:
        data = event.check_payload()
        storable.check(event, data)
    except InvalidEventError as err:
        return _rejected(event.event_id, err.code, err.field, err.message), None
    if event.payload is not None and data is not None:
        parsed[event.payload] = data
    receipt = next(receipts)
    known[event.event_id] = (event.payload_sha256, event.chain_sha256, event.device_id, receipt)
    row = {**event.header(), "payload": event.payload, "withheld": event.withheld,
           "payload_sha256": event.payload_sha256, "prev_chain_sha256": event.prev_chain_sha256,
           "chain_sha256": event.chain_sha256, "receipt": receipt}
    return EventResult(event.event_id, ACCEPTED, receipt=receipt), row


def _rejected(event_id: str | None, code: str, field: str | None, message: str) -> EventResult:
    return EventResult(event_id, REJECTED, code=code, field=field, message=message)


def _local(field: str | None) -> str | None:
    """`events[3].payload` -> `payload`: a result names the field inside its own event."""
    return field.split(".", 1)[1] if field and field.startswith("events[") and "." in field \
        else field
