"""Retention: `anju central purge` removes stays older than the retention, whole.

A stay, its guests and its events carry `stay_month`, the month the server first saw the stay
(migration 0015). A purge with a retention of N days removes every stay whose month ended
before the day N days ago, together with everything personal kept for it:

    events (photos included: they travel inside the check-in's payload), stays, stay_guests
    feed_log        records written before the first kept month (the feed is a delivery log;
                    a purged stay's record written later, e.g. a check-out in the next month,
                    goes with the next month's purge)
    foreign_events  refused events received before the first kept month

Granularity is the month: data is kept up to one month longer than the retention, never
shorter. Kept: stay_owners (which device owns a stay id: no personal data, and a re-sent old
event stays refused for other devices), chain_faults, devices, the audit log. The same purge
also removes old heartbeats and day reports (central/devices/history.py) and expired login
sessions; docs/operations.md says, table by table, what is purged and why the rest is not.

PostgreSQL drops the month partitions (central/db/partitions.py): no row-by-row delete, no
table bloat, no vacuum debt; rows of old months in the default partition are deleted. SQLite
deletes rows. One transaction, with the audit row that records what was purged (action
`purge`, by the operating-system user), which `anju central purge` adds to it
(central/cli/retention.py: stays/ does not import accounts/). Dropping a partition locks
the table for the moment of the commit: ingest waits that long (lock_timeout bounds it).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, select, text

from central.db import partitions
from central.db.tables import PARTITIONED, feed_log, foreign_events

log = logging.getLogger(__name__)
ACTION = "purge"


@dataclass
class PurgePlan:
    retention_days: int
    keep_from: str  # "YYYY-MM": the first month kept
    months: list[str] = field(default_factory=list)  # months purged (with data or a partition)
    partitions: list[str] = field(default_factory=list)  # PostgreSQL: partitions dropped
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows removed
    created: list[str] = field(default_factory=list)  # partitions made ahead by this purge
    # Heartbeats have a retention of their own (central/devices/history.py; set by the CLI).
    heartbeat_retention_days: int | None = None
    heartbeats_before: str | None = None  # UTC time text: older ones removed (latest kept)

    def summary(self) -> dict[str, object]:
        return asdict(self)


def keep_from(now: datetime, retention_days: int) -> str:
    """The first month kept: the month of the day `retention_days` ago."""
    return (now - timedelta(days=retention_days)).strftime("%Y-%m")


def plan(conn: Connection, now: datetime, retention_days: int) -> PurgePlan:
    """What a purge would remove now (nothing is changed)."""
    if retention_days < 1:
        raise ValueError("retention_days must be >= 1")
    first_kept = keep_from(now, retention_days)
    result = PurgePlan(retention_days, first_kept)
    months: set[str] = set()
    if partitions.is_partitioned(conn):
        for part in partitions.partitions(conn):
            if part.month is not None and part.month < first_kept:
                result.partitions.append(part.name)
                months.add(part.month)
                count = conn.execute(text(f"SELECT count(*) FROM {part.name}")).scalar_one()
                result.rows[part.table] = result.rows.get(part.table, 0) + count
            elif part.month is None:
                for month, count in conn.execute(
                    text(
                        f"SELECT stay_month, count(*) FROM {part.name} "
                        "WHERE stay_month < :m GROUP BY stay_month"
                    ),
                    {"m": first_kept},
                ):
                    months.add(month)
                    result.rows[part.table] = result.rows.get(part.table, 0) + count
    else:
        for table in PARTITIONED:
            for month, count in conn.execute(
                text(
                    f"SELECT stay_month, count(*) FROM {table} WHERE stay_month < :m "
                    "GROUP BY stay_month"
                ),
                {"m": first_kept},
            ):
                months.add(month)
                result.rows[table] = result.rows.get(table, 0) + count
    start = f"{first_kept}-01T00:00:00.000000Z"
    last_feed = _last_feed(conn, start)
    result.rows["feed_log"] = conn.execute(
        select(func.count()).select_from(feed_log).where(feed_log.c.position <= last_feed)
    ).scalar_one()
    result.rows["foreign_events"] = conn.execute(
        select(func.count()).select_from(foreign_events)
        .where(foreign_events.c.received_at < start)
    ).scalar_one()
    for table in (*PARTITIONED, "feed_log", "foreign_events"):
        result.rows.setdefault(table, 0)
    result.months = sorted(months)
    return result


def purge_in(conn: Connection, now: datetime, retention_days: int) -> PurgePlan:
    """Remove what `plan` lists, in the caller's transaction (the CLI adds the audit row to
    it: central/cli/retention.py), and make the coming months' partitions."""
    result = plan(conn, now, retention_days)
    for name in result.partitions:
        conn.execute(text(f"DROP TABLE {name}"))
    start = f"{result.keep_from}-01T00:00:00.000000Z"
    for table in PARTITIONED:
        target = f"{table}_default" if partitions.is_partitioned(conn) else table
        conn.execute(text(f"DELETE FROM {target} WHERE stay_month < :m"),
                     {"m": result.keep_from})
    conn.execute(delete(feed_log).where(feed_log.c.position <= _last_feed(conn, start)))
    conn.execute(delete(foreign_events).where(foreign_events.c.received_at < start))
    result.created = partitions.ensure(conn, now)
    log.info("purge: kept from %s, removed months %s, rows %s", result.keep_from,
             ",".join(result.months) or "none", result.rows)
    return result


def audit_query(result: PurgePlan) -> dict[str, object]:
    """What the audit row of a purge records."""
    return {"keep_from": result.keep_from, "months": ",".join(result.months),
            "partitions": ",".join(result.partitions),
            "heartbeat_retention_days": result.heartbeat_retention_days,
            "heartbeats_before": result.heartbeats_before,
            **{f"rows_{t}": n for t, n in result.rows.items()}}


def _last_feed(conn: Connection, start: str) -> int:
    """The highest feed position to remove: the last before the first record written at or
    after `start` (positions follow commit order; walking them from the first stops there)."""
    first_kept = conn.execute(
        select(feed_log.c.position).where(feed_log.c.recorded_at >= start)
        .order_by(feed_log.c.position).limit(1)
    ).scalar()
    if first_kept is not None:
        return int(first_kept) - 1
    return int(conn.execute(select(func.coalesce(func.max(feed_log.c.position), 0))).scalar_one())
