"""POST /api/v1/heartbeat: device health, and the nil report that tells a silent terminal from
an empty guesthouse. The answer carries the software rollout that applies to the device, if
any (central/rollout.py), and the heartbeat the device's updater's last outcome. Each
heartbeat is kept (history for the fleet view) and summarised on the device row (last seen,
software version, clock offset, and which heartbeat is its latest: the fleet view reads that
one). `day_reports` carry the number of check-ins per local day; a report of zero is the nil
report: "this terminal worked, nobody checked in". A day reported again (the terminal re-sends
recent days) replaces the earlier figure.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update

from central import rollout
from central.db.tables import day_reports, devices, heartbeats
from central.devices import event_time
from central.devices.authentication import Device
from central.devices.ingest import check_sender
from central.logsafe import safe
from central.settings import Settings
from sync.fields import format_utc
from sync.messages import Heartbeat, HeartbeatAnswer

log = logging.getLogger(__name__)


def record(engine: Engine, device: Device, beat: Heartbeat, received: datetime,
           settings: Settings) -> HeartbeatAnswer:
    check_sender(device, beat.device_id, beat.site_code)
    now = format_utc(received)
    offset = event_time.offset_ms(beat.clock, received)
    with engine.begin() as conn:
        # The device row first, as ingest does: one lock order, no deadlock between the two.
        conn.execute(select(devices.c.device_id).where(devices.c.device_id == device.device_id)
                     .with_for_update())
        event_time.record_anchor(conn, device.device_id, beat.clock, received)
        beat_id = conn.execute(insert(heartbeats).values(
            device_id=device.device_id, received_at=now, software_version=beat.software_version,
            backlog=beat.backlog, oldest_queued_age_s=beat.oldest_queued_age_s,
            rejected=beat.rejected, reader_status=beat.reader_status,
            disk_free_bytes=beat.disk_free_bytes, clock_synchronised=beat.clock_synchronised,
            clock_offset_ms=offset, last_error=beat.last_error,
            reader_detail=beat.reader_detail,
            reader_since=_before(received, beat.reader_state_age_s),
            reader_seen_at=_before(received, beat.reader_seen_age_s),
            sync_state=beat.sync_state, sync_since=_before(received, beat.sync_state_age_s),
            disk_min_free_bytes=beat.disk_min_free_bytes, doctor_class=beat.doctor_class,
            doctor_at=_before(received, beat.doctor_age_s))).inserted_primary_key[0]
        days = {d.date: d.check_ins for d in beat.day_reports}
        if days:
            conn.execute(delete(day_reports).where(day_reports.c.device_id == device.device_id,
                                                   day_reports.c.day.in_(sorted(days))))
            conn.execute(insert(day_reports), [
                {"device_id": device.device_id, "day": day, "check_ins": count,
                 "reported_at": now} for day, count in sorted(days.items())])
        conn.execute(update(devices).where(devices.c.device_id == device.device_id).values(
            last_seen_at=now, last_heartbeat_at=now, last_heartbeat_id=beat_id,
            software_version=beat.software_version, clock_offset_ms=offset))
        if beat.update is not None:
            rollout.record_report(conn, device.device_id, beat.update, now)
        order = rollout.order_for(conn, device.device_id, device.site_code, received)
    nil_days = sorted(day for day, count in days.items() if count == 0)
    log.info("heartbeat from %s: backlog %d, delivery %s, reader %s%s", safe(device.device_id),
             beat.backlog, safe(beat.sync_state or "-"), safe(beat.reader_status),
             f", nil report for {', '.join(nil_days)}" if nil_days else "")
    return HeartbeatAnswer(now, offset, settings.heartbeat_interval_s, order)


def _before(received: datetime, age_s: float | None) -> str | None:
    """A time the terminal reported as an age (its monotonic clock), in server time."""
    return None if age_s is None else format_utc(received - timedelta(seconds=age_s))
