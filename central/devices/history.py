"""Retention of what terminals report about themselves: heartbeats and day reports.

`anju central purge` (central/cli/retention.py) removes, in its one audited transaction:

    heartbeats   received before the heartbeat retention (its own setting, days: the history
                 is for diagnosing a terminal's recent past; 14 M rows a day for a province)
    day_reports  for local days before the first month the stays' retention keeps (a day's
                 count of check-ins is compared with that day's stays: once they are purged
                 there is nothing left to compare it with)

Each device's latest heartbeat and latest day report are always kept, however old: the fleet
page shows them (central/fleet.py: the latest by id and by day), and a terminal silent for
longer than the retention must still show its last known state (the device row names its
latest heartbeat: `devices.last_heartbeat_id`). Rows are deleted (neither table is
partitioned); on PostgreSQL the space is reused after autovacuum. The heartbeats'
cut-off reads the index on `received_at` (migration 0016), not the whole table.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, delete, exists, func, select
from sqlalchemy.orm import aliased

from central.db.tables import day_reports, devices, heartbeats


def _old_heartbeats(before: str) -> ColumnElement[bool]:
    # Each device row names its latest heartbeat (migration 0019): kept without a max() over
    # every heartbeat held.
    latest = select(devices.c.last_heartbeat_id).where(devices.c.last_heartbeat_id.is_not(None))
    return (heartbeats.c.received_at < before) & heartbeats.c.id.not_in(latest)


def _old_day_reports(before: str) -> ColumnElement[bool]:
    newer = aliased(day_reports)
    return (day_reports.c.day < before) & exists().where(
        newer.c.device_id == day_reports.c.device_id, newer.c.day > day_reports.c.day)


def plan(conn: Connection, heartbeats_before: str, reports_before: str) -> dict[str, int]:
    """Rows a purge would remove: heartbeats received before `heartbeats_before` (UTC time
    text) and day reports of days before `reports_before` ("YYYY-MM-DD"), latest kept."""
    return {
        "heartbeats": conn.execute(select(func.count()).select_from(heartbeats)
                                   .where(_old_heartbeats(heartbeats_before))).scalar_one(),
        "day_reports": conn.execute(select(func.count()).select_from(day_reports)
                                    .where(_old_day_reports(reports_before))).scalar_one(),
    }


def purge_in(conn: Connection, heartbeats_before: str, reports_before: str) -> dict[str, int]:
    """Remove what `plan` lists, in the caller's transaction; rows removed per table."""
    return {
        "heartbeats": conn.execute(
            delete(heartbeats).where(_old_heartbeats(heartbeats_before))).rowcount,
        "day_reports": conn.execute(
            delete(day_reports).where(_old_day_reports(reports_before))).rowcount,
    }
