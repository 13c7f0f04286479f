"""Monthly partitions of events, stays and stay_guests on PostgreSQL (migration 0015).

Each table is PARTITION BY RANGE (stay_month) with one partition per month, named
`<table>_YYYY_MM`, and a DEFAULT partition `<table>_default` that catches a month without
its own partition (a stay first seen in a month already purged, or a server clock far ahead).
`ensure()` creates the current month's partition and the next AHEAD months' (at every
migration, so at every server start and admin command, and by `anju central purge`); it
never creates a month whose rows are in the default partition already (PostgreSQL would refuse:
those rows stay there and a purge deletes them row by row). SQLite has no partitions: no-ops.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from central.db.tables import PARTITIONED

log = logging.getLogger(__name__)
AHEAD = 2
LOCK_KEY = 0x414E4A50  # "ANJP": serialises partition maintenance of several servers
_NAME = re.compile(r"^(?P<table>[a-z_]+)_(?P<year>\d{4})_(?P<month>\d{2})$")


@dataclass(frozen=True, slots=True)
class Partition:
    table: str  # the partitioned table
    name: str  # the partition
    month: str | None  # "YYYY-MM"; None: the default partition


def month_after(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def is_partitioned(conn: Connection) -> bool:
    """Are the tables partitioned here (PostgreSQL at revision 0015 or later)?"""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(
        text(
            "SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(:t)"
        ),
        {"t": PARTITIONED[0]},
    ).scalar()
    return kind == "p"


def partitions(conn: Connection) -> list[Partition]:
    """The partitions of the partitioned tables, by table and month (default last)."""
    rows = conn.execute(
        text(
            "SELECT parent.relname AS parent, child.relname AS child FROM pg_inherits i "
            "JOIN pg_class parent ON parent.oid = i.inhparent "
            "JOIN pg_class child ON child.oid = i.inhrelid "
            "WHERE parent.relnamespace = CAST(current_schema() AS regnamespace) "
            "AND parent.relname = ANY(:tables)"
        ),
        {"tables": list(PARTITIONED)},
    ).all()
    found = []
    for parent, child in rows:
        match = _NAME.match(child)
        month = None
        if match and match["table"] == parent:
            month = f"{match['year']}-{match['month']}"
        elif child != f"{parent}_default":
            continue  # not one of ours: left alone
        found.append(Partition(parent, child, month))
    return sorted(found, key=lambda p: (PARTITIONED.index(p.table), p.month or "9999"))


def ensure(conn: Connection, now: datetime, ahead: int = AHEAD) -> list[str]:
    """Create the partitions of this month and the next `ahead`; returns the new ones' names."""
    if not is_partitioned(conn):
        return []
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    existing = {(p.table, p.month) for p in partitions(conn)}
    months = [now.strftime("%Y-%m")]
    for _ in range(ahead):
        months.append(month_after(months[-1]))
    created = []
    for table in PARTITIONED:
        for month in months:
            if (table, month) in existing:
                continue
            waiting = conn.execute(
                text(f"SELECT count(*) FROM {table}_default WHERE stay_month = :m"), {"m": month}
            ).scalar_one()
            if waiting:
                log.warning("%s: %d rows of %s are in %s_default: no partition made for it",
                            table, waiting, month, table)
                continue
            name = f"{table}_{month.replace('-', '_')}"
            conn.execute(
                text(
                    f"CREATE TABLE {name} PARTITION OF {table} "
                    f"FOR VALUES FROM ('{month}') TO ('{month_after(month)}')"
                )
            )
            created.append(name)
    if created:
        log.info("partitions created: %s", ", ".join(created))
    return created
