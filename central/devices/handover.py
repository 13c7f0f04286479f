"""Replacing and retiring a terminal: POST /api/v1/handover and /api/v1/decommission.

Hand-over (docs/handover.md): the replacement sends, signed with its own secret, one part of
the hand-over file that `anju handover export` wrote from the old device: the old device's
undelivered events, signed by the OLD device's secret (sync/handover.py). Checked in order:

    part well formed                                       400 invalid_handover
    old device known                                       404 unknown_device
    old device of the sender's site, and not the sender    403 wrong_site / 400 same_device
    old device not handed over to another device already   409 handover_done
    part signed by the old device's secret                 403 bad_handover_signature

Then the events are stored exactly as the old device's own upload would have been
(central/devices/ingest.py, unchanged: its device id, chain and the stays it owns), and each is
answered as in a batch (a part sent twice: duplicates). The old device is marked replaced by
the sender and revoked (403 device_disabled from then on: it must not write after its events
were handed over). The same file from the same replacement may be sent again; from any other
device it is refused.

Decommissioning: a device revokes itself (`anju wipe`), or the administrator revokes one
(`anju central devices revoke`): disabled, with the time.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from central.db.tables import devices, handovers
from central.devices import ingest
from central.devices.authentication import Device
from central.errors import BadRequestError, CentralError, ForbiddenError, NotFoundError
from central.logsafe import safe
from sync.errors import ProtocolError
from sync.fields import format_utc
from sync.handover import Part
from sync.protocol import PROTOCOL_VERSION, BatchAnswer, BatchEnvelope, Limits, SenderClock

log = logging.getLogger(__name__)


class HandoverDoneError(CentralError):
    status, code = 409, "handover_done"


def hand_over(
    engine: Engine, sender: Device, doc: object, received: datetime, limits: Limits
) -> BatchAnswer:
    if not isinstance(doc, dict):
        raise BadRequestError("expected a JSON object", code="invalid_handover")
    try:
        part = Part.from_json(doc.get("part"))
        clock = SenderClock.from_json(doc.get("clock"))
        # The sender's clock, not the exporter's: the part may have waited days in a pocket,
        # and the offset measured now must not be pinned on the old device's boots.
        batch = BatchEnvelope.from_json(
            {
                "protocol": PROTOCOL_VERSION,
                "device_id": part.device_id,
                "site_code": part.site_code,
                "clock": clock.to_json(),
                "events": list(part.events),
            },
            limits,
        )
    except ProtocolError as err:
        raise BadRequestError(err.message, code=err.code, field=err.field) from err
    with engine.connect() as conn:
        old = conn.execute(
            select(devices.c.site_code, devices.c.secret, devices.c.replaced_by).where(
                devices.c.device_id == part.device_id
            )
        ).first()
    if old is None:
        raise NotFoundError(f"unknown device {part.device_id!r}", code="unknown_device")
    if part.device_id == sender.device_id:
        raise BadRequestError("a device cannot hand over to itself", code="same_device")
    if old.site_code != sender.site_code:
        raise ForbiddenError(f"device {part.device_id} belongs to another site", code="wrong_site")
    if old.replaced_by not in (None, sender.device_id):
        raise HandoverDoneError(
            f"device {part.device_id} was handed over to {old.replaced_by} already"
        )
    if not part.verify(old.secret):
        log.warning(
            "hand-over part for %s from %s: bad signature",
            safe(part.device_id),
            safe(sender.device_id),
        )
        raise ForbiddenError(
            "the part is not signed by the old device's secret", code="bad_handover_signature"
        )
    answer = ingest.ingest(engine, Device(part.device_id, old.site_code, False), batch, received)
    _record(
        engine,
        part.device_id,
        sender.device_id,
        format_utc(received),
        sum(r.status == "accepted" for r in answer.results),
    )
    log.info(
        "device %s handed over to %s: %d events in this part",
        safe(part.device_id),
        safe(sender.device_id),
        len(answer.results),
    )
    return answer


def _record(engine: Engine, old: str, new: str, now: str, accepted: int) -> None:
    with engine.begin() as conn:
        row = conn.execute(
            select(handovers.c.new_device_id)
            .where(handovers.c.old_device_id == old)
            .with_for_update()
        ).first()
        if row is None:
            conn.execute(
                insert(handovers).values(
                    old_device_id=old,
                    new_device_id=new,
                    first_at=now,
                    last_at=now,
                    parts=1,
                    accepted=accepted,
                )
            )
        elif row.new_device_id != new:  # a concurrent hand-over to another device won
            raise HandoverDoneError(f"device {old} was handed over to {row.new_device_id}")
        else:
            conn.execute(
                update(handovers)
                .where(handovers.c.old_device_id == old)
                .values(
                    last_at=now,
                    parts=handovers.c.parts + 1,
                    accepted=handovers.c.accepted + accepted,
                )
            )
        conn.execute(
            update(devices)
            .where(devices.c.device_id == old, devices.c.replaced_by.is_(None))
            .values(replaced_by=new, replaced_at=now, disabled=True, revoked_at=now)
        )


def revoke(engine: Engine, device_id: str, now: str) -> bool:
    """Disable a device for good; False when unknown. Revoking twice keeps the first time."""
    with engine.begin() as conn:
        found = conn.execute(
            select(devices.c.revoked_at).where(devices.c.device_id == device_id)
        ).first()
        if found is None:
            return False
        conn.execute(
            update(devices)
            .where(devices.c.device_id == device_id)
            .values(disabled=True, revoked_at=found.revoked_at or now)
        )
    log.info("device %s revoked", safe(device_id))
    return True
