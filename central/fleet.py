"""Fleet view for `anju central devices list`: each device with its last health and chain state."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from central.db.tables import chain_faults, day_reports, devices, heartbeats, site_districts


def list_devices(engine: Engine, district: str | None = None) -> list[dict[str, Any]]:
    """Every device, or only those at the sites of `district`."""
    latest = (select(heartbeats.c.device_id, func.max(heartbeats.c.id).label("id"))
              .group_by(heartbeats.c.device_id).subquery())
    open_gaps = (select(chain_faults.c.device_id, func.count().label("n"))
                 .where(chain_faults.c.kind == "gap", chain_faults.c.resolved_at.is_(None))
                 .group_by(chain_faults.c.device_id).subquery())
    breaks = (select(chain_faults.c.device_id, func.count().label("n"))
              .where(chain_faults.c.kind != "gap").group_by(chain_faults.c.device_id).subquery())
    last_nil = (select(day_reports.c.device_id, func.max(day_reports.c.day).label("day"))
                .where(day_reports.c.check_ins == 0).group_by(day_reports.c.device_id)
                .subquery())
    query = (
        select(devices.c.device_id, devices.c.site_code, devices.c.enrolled_at,
               devices.c.disabled, devices.c.software_version, devices.c.last_seen_at,
               devices.c.last_heartbeat_at, devices.c.clock_offset_ms, devices.c.max_sequence,
               devices.c.events_stored, devices.c.replaced_by, devices.c.replaced_at,
               devices.c.revoked_at, devices.c.refused_at, devices.c.refused_code,
               devices.c.refused_first_at, heartbeats.c.backlog, heartbeats.c.oldest_queued_age_s,
               heartbeats.c.reader_status, heartbeats.c.reader_detail,
               heartbeats.c.reader_since, heartbeats.c.reader_seen_at,
               heartbeats.c.disk_free_bytes,
               heartbeats.c.clock_synchronised, heartbeats.c.rejected,
               heartbeats.c.sync_state, heartbeats.c.sync_since,
               heartbeats.c.disk_min_free_bytes, heartbeats.c.last_error,
               heartbeats.c.doctor_class, heartbeats.c.doctor_at,
               func.coalesce(open_gaps.c.n, 0).label("open_gaps"),
               func.coalesce(breaks.c.n, 0).label("chain_breaks"),
               last_nil.c.day.label("last_nil_report"))
        .select_from(devices)
        .outerjoin(latest, latest.c.device_id == devices.c.device_id)
        .outerjoin(heartbeats, heartbeats.c.id == latest.c.id)
        .outerjoin(open_gaps, open_gaps.c.device_id == devices.c.device_id)
        .outerjoin(breaks, breaks.c.device_id == devices.c.device_id)
        .outerjoin(last_nil, last_nil.c.device_id == devices.c.device_id)
        .order_by(devices.c.site_code, devices.c.device_id))
    if district is not None:
        query = query.where(devices.c.site_code.in_(select(site_districts.c.site_code).where(
            site_districts.c.district == district)))
    with engine.connect() as conn:
        rows = [dict(row._mapping) for row in conn.execute(query)]
    replaces = {r["replaced_by"]: r["device_id"] for r in rows if r["replaced_by"]}
    for row in rows:  # the other half of a hand-over: which device this one replaced
        row["replaces"] = replaces.get(row["device_id"])
        # Refused since it was last heard from: what a silent terminal's requests met.
        refused = row["refused_at"] is not None and (row["last_seen_at"] is None
                                                     or row["refused_at"] > row["last_seen_at"])
        row["refused_since"] = row["refused_first_at"] if refused else None
        if not refused:
            row["refused_code"] = None
        low = row["disk_min_free_bytes"]
        row["disk_low"] = (low is not None and row["disk_free_bytes"] is not None
                           and row["disk_free_bytes"] < 2 * low)
    return rows


def chain_fault_list(engine: Engine, device_id: str | None = None) -> list[dict[str, Any]]:
    query = select(chain_faults).order_by(chain_faults.c.device_id, chain_faults.c.first_sequence,
                                          chain_faults.c.id)
    if device_id is not None:
        query = query.where(chain_faults.c.device_id == device_id)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]
