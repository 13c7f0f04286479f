"""The fleet, for technicians: every site and device with its last health and chain state.

One module answers every fleet question (the page, `anju central devices list`, `/metrics`,
the chart), each with the same district filter (`_in_district`).

The page orders the devices so that the ones that need a technician come first:

    order  1. silent: no heartbeat for `silent_after_s` (longest silent first), sites with no
              device at all among them (a guesthouse that never came online); beside each,
              what the server last heard and any request it refused since (a wrong secret)
           2. not delivering: heard from, but its last heartbeat says why events are not
              delivered (`sync_state`: server failing on events, events rejected, backlog
              stuck), or its signed requests were refused since (a wrong secret)
           3. old backlog: the oldest undelivered event older than `backlog_alarm_s`
           4. the rest, by site
Nil reports (a day with zero check-ins reported by a working terminal) are shown as such, so a
quiet guesthouse is not mistaken for a broken one. Nothing here is personal data. A user with a
district (users.district) sees only that district's sites and devices, table and chart alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from central.clock import BEIJING, day_start_utc, utc_now
from central.db.tables import (
    chain_faults,
    day_reports,
    devices,
    heartbeats,
    site_districts,
    sites,
    stays,
)
from central.errors import NotFoundError
from sync.fields import parse_utc

SILENT, BACKLOG, OK, NO_DEVICE = "silent", "backlog", "ok", "no_device"
NOT_DELIVERING = "not_delivering"


@dataclass(frozen=True, slots=True)
class FleetPolicy:
    silent_after_s: int = 30 * 60
    backlog_alarm_s: int = 60 * 60


def list_devices(engine: Engine, district: str | None = None) -> list[dict[str, Any]]:
    """Every device, or only those at the sites of `district`."""
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
        # The device row names its latest heartbeat (migration 0019): no max() over them all.
        .outerjoin(heartbeats, heartbeats.c.id == devices.c.last_heartbeat_id)
        .outerjoin(open_gaps, open_gaps.c.device_id == devices.c.device_id)
        .outerjoin(breaks, breaks.c.device_id == devices.c.device_id)
        .outerjoin(last_nil, last_nil.c.device_id == devices.c.device_id)
        .order_by(devices.c.site_code, devices.c.device_id))
    if district is not None:
        query = query.where(_in_district(devices.c.site_code, district))
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


def chain_fault_list(engine: Engine, device_id: str | None = None, *,
                     district: str | None = None) -> list[dict[str, Any]]:
    """Sequence gaps and chain breaks, of one device or all, or only those at `district`'s
    sites."""
    query = select(chain_faults).order_by(chain_faults.c.device_id, chain_faults.c.first_sequence,
                                          chain_faults.c.id)
    if device_id is not None:
        query = query.where(chain_faults.c.device_id == device_id)
    if district is not None:
        query = query.where(chain_faults.c.device_id.in_(
            select(devices.c.device_id).where(_in_district(devices.c.site_code, district))))
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def fleet(engine: Engine, policy: FleetPolicy, now: datetime | None = None, *,
          district: str | None = None) -> list[dict[str, Any]]:
    """One row per device (and per site without a device), most urgent first; with a
    `district`, only its sites and their devices."""
    now = now or utc_now()
    site_query = (select(sites.c.code, sites.c.name, site_districts.c.district)
                  .outerjoin(site_districts, site_districts.c.site_code == sites.c.code))
    if district is not None:
        site_query = site_query.where(_in_district(sites.c.code, district))
    with engine.connect() as conn:
        site_rows = {r.code: dict(r._mapping) for r in conn.execute(site_query)}
        latest = (select(day_reports.c.device_id, func.max(day_reports.c.day).label("day"))
                  .group_by(day_reports.c.device_id).subquery())
        last_report = {r.device_id: (r.day, r.check_ins, r.reported_at) for r in conn.execute(
            select(day_reports.c.device_id, day_reports.c.day, day_reports.c.check_ins,
                   day_reports.c.reported_at)
            .join(latest, (latest.c.device_id == day_reports.c.device_id)
                  & (latest.c.day == day_reports.c.day)))}
        received = _received_on_report_days(conn, last_report)
    rows: list[dict[str, Any]] = []
    seen_sites = set()
    for device in list_devices(engine, district):
        site = site_rows.get(device["site_code"], {})
        seen_sites.add(device["site_code"])
        row = {**device, "site_name": site.get("name"), "district": site.get("district")}
        # Never heard from since enrolment counts as silent since enrolment.
        row["silent_s"] = _age_s(now, device["last_heartbeat_at"] or device["enrolled_at"])
        backlog_age = device["oldest_queued_age_s"]
        if backlog_age is not None and row["silent_s"] is not None:
            backlog_age += row["silent_s"]  # it has kept ageing since that heartbeat
        row["backlog_age_s"] = backlog_age if device["backlog"] else None
        (row["last_report_day"], row["last_report_count"],
         row["last_report_at"]) = last_report.get(device["device_id"], (None, None, None))
        row["received_that_day"] = received.get((device["device_id"], row["last_report_day"]), 0)
        if device["disabled"]:
            row["state"] = "disabled"
        elif device["last_heartbeat_at"] is None or row["silent_s"] > policy.silent_after_s:
            row["state"] = SILENT
        elif device["sync_state"] not in (None, "ok") or device["refused_since"]:
            row["state"] = NOT_DELIVERING
        elif row["backlog_age_s"] is not None and row["backlog_age_s"] > policy.backlog_alarm_s:
            row["state"] = BACKLOG
        else:
            row["state"] = OK
        rows.append(row)
    for code, site in site_rows.items():
        if code not in seen_sites:
            rows.append({"site_code": code, "site_name": site["name"],
                         "district": site["district"], "device_id": None, "state": NO_DEVICE,
                         "silent_s": None, "backlog_age_s": None})
    rank = {SILENT: 0, NO_DEVICE: 1, NOT_DELIVERING: 2, BACKLOG: 3, OK: 4, "disabled": 5}
    rows.sort(key=lambda r: (rank[r["state"]], -(r["silent_s"] or 0) if r["state"] == SILENT
                             else -(r["backlog_age_s"] or 0), r["site_code"],
                             r["device_id"] or ""))
    return rows


def check_scope(engine: Engine, own_district: str | None, site: str | None,
                district: str | None) -> None:
    """A user with a district sees only that district on the fleet page: another district, or a
    site outside it, answers NotFoundError (404, as a stay outside it does), not its figures."""
    if own_district is None:
        return
    if district != own_district:
        raise NotFoundError(f"no district {district!r} in your view", code="not_found")
    if site is not None:
        with engine.connect() as conn:
            inside = conn.execute(select(site_districts.c.site_code).where(
                site_districts.c.site_code == site,
                site_districts.c.district == own_district)).first()
        if inside is None:
            raise NotFoundError(f"no site {site!r} in your district", code="not_found")


def _age_s(now: datetime, stamp: str | None) -> float | None:
    return None if stamp is None else max(0.0, (now - parse_utc(stamp)).total_seconds())


def _received_on_report_days(conn: Any, reports: dict[str, tuple[str, int, str]]
                             ) -> dict[tuple[str, str], int]:
    """(device, Beijing day) -> check-ins the server holds, for each device's last report day.

    A day report is the terminal's count of its check-ins that day *when it sent the report*
    (with its last heartbeat), while the chart counts what the server received: beside each
    report the page shows the server's count of the same device and day, so a difference
    (check-ins after the report, or not delivered yet) is explained, not contradictory. One
    query over the stays since the earliest report day (newest-first index), per UTC hour."""
    days = {day for day, _n, _at in reports.values()}
    if not days:
        return {}
    hour = func.substr(stays.c.checked_in_at, 1, 13)
    query = (select(stays.c.device_id, hour.label("hour"), func.count().label("n"))
             .where(stays.c.checked_in_at >= day_start_utc(min(days)))
             .group_by(stays.c.device_id, hour))
    counts: dict[tuple[str, str], int] = {}
    for row in conn.execute(query):
        day = (datetime.fromisoformat(row.hour + ":00+00:00").astimezone(BEIJING)
               .date().isoformat())
        counts[(row.device_id, day)] = counts.get((row.device_id, day), 0) + int(row.n)
    return counts


def daily_registrations(engine: Engine, days: int = 30, *, site: str | None = None,
                        district: str | None = None, now: datetime | None = None
                        ) -> list[tuple[str, int]]:
    """Check-ins per Beijing day (00:00-24:00 UTC+8) over the last `days` days, today included
    (zero days too), oldest first.

    Stored times are UTC text, so SQL counts per UTC hour (`YYYY-MM-DDTHH`, the same on both
    backends, through the check-in time index) and the hours are folded into Beijing days here:
    UTC+8 is a whole number of hours, so every hour falls in one Beijing day."""
    today = (now or utc_now()).astimezone(BEIJING).date()
    first = today - timedelta(days=days - 1)
    hour = func.substr(stays.c.checked_in_at, 1, 13)
    query = (select(hour.label("hour"), func.count().label("n"))
             .where(stays.c.checked_in_at >= day_start_utc(first.isoformat()),
                    stays.c.checked_in_at < day_start_utc(today.isoformat(), 1))
             .group_by(hour))
    if site:
        query = query.where(stays.c.site_code == site)
    if district is not None:
        query = query.where(_in_district(stays.c.site_code, district))
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for row in conn.execute(query):
            day = (datetime.fromisoformat(row.hour + ":00+00:00").astimezone(BEIJING)
                   .date().isoformat())
            counts[day] = counts.get(day, 0) + int(row.n)
    return [((first + timedelta(days=i)).isoformat(),
             counts.get((first + timedelta(days=i)).isoformat(), 0)) for i in range(days)]


def _in_district(site_code: Any, district: str) -> Any:
    """The one district filter of every fleet query: the site is one of `district`'s."""
    return site_code.in_(select(site_districts.c.site_code)
                         .where(site_districts.c.district == district))
