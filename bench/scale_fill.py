"""Filling a schema with millions of events server-side, for bench_ingest_scale.py's `stored` part.

The rows are made by PostgreSQL itself (INSERT ... SELECT generate_series): a client's COPY
would put its own CPU on the same two cores as the server. One stay and one guest per two
events (a check-in carrying the guest's 1 KB photo, and a check-out); guest names are CJK
characters spread like real ones, so that the trigram and bigram indexes grow as they would.

A filled schema can be kept (`kept_schema`): created if missing, migrated, never dropped, so
that a later run of new code measures at 20 M events without an hour of refilling.

The fill runs at the lowest CPU and I/O priority (its PostgreSQL backend reniced: the machine
is shared) and stops between steps when the filesystem of the database runs short of space.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

STEP = 500_000  # events per INSERT: one transaction of ~1 GB, the unit of the free-space check

FILL = """
INSERT INTO events (event_id, receipt, device_id, site_code, sequence, kind, stay_id,
    wall_time, clock_synchronised, monotonic_ns, boot_id, operator, payload, payload_sha256,
    prev_chain_sha256, chain_sha256, received_at, clock_offset_ms, corrected_time,
    time_source, stay_month)
SELECT md5(%(tag)s::text || i)::uuid::text, 'R' || substr(md5('r' || %(tag)s::text || i), 1, 24),
    'FILL-' || (i %% 50000), 'FS' || (i %% 50000), %(base)s::bigint + i / 50000,
    CASE WHEN i %% 2 = 0 THEN 'check_in' ELSE 'check_out' END,
    md5('s' || %(tag)s::text || (i / 2))::uuid::text,
    to_char(now(), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), true, i, 'boot', '0007',
    CASE WHEN i %% 2 = 0 THEN %(check_in)s::text ELSE %(check_out)s::text END,
    md5(i::text) || md5(i::text), md5('p' || i) || md5('p' || i),
    md5('c' || i) || md5('c' || i), to_char(now(), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 0,
    to_char(now(), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 'device', to_char(now(), 'YYYY-MM')
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
"""
FILL_STAYS = """
INSERT INTO stays (stay_id, device_id, site_code, room, status, complete, checked_in_at,
    checked_out_at, time_corrected, event_count, updated_at, stay_month)
SELECT md5('s' || %(tag)s::text || j)::uuid::text, 'FILL-' || (j %% 50000), 'FS' || (j %% 50000),
    (100 + j %% 40)::text, 'checked_out', true,
    to_char(now() - (j %% 300) * interval '1 hour', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    to_char(now(), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), false, 2,
    to_char(now(), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(now(), 'YYYY-MM')
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS j
"""
FILL_GUESTS = """
INSERT INTO stay_guests (stay_id, guest_id, role, name, document_type, document_number,
    nationality, checked_in_at, stay_checked_in_at, stay_month)
SELECT md5('s' || %(tag)s::text || j)::uuid::text,
    md5('g' || %(tag)s::text || j)::uuid::text, 'main',
    chr((19968 + (j * 7) %% 20000)::int) || chr((19968 + (j * 13) %% 20000)::int)
        || chr((19968 + (j * 31) %% 20000)::int),
    '11', lpad((j * 7919 %% 1000000000000)::text, 18, '4'), 'CHN',
    to_char(now(), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    to_char(now(), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), to_char(now(), 'YYYY-MM')
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS j
"""


class DiskLow(Exception):
    """The database's filesystem has less free space than the bench may leave."""


@dataclass(frozen=True)
class Filled:
    added: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.added / self.seconds if self.seconds else 0.0


def stored_events(info: str) -> int:
    with psycopg.connect(info) as conn:
        row = conn.execute("SELECT count(*) FROM events").fetchone()
        assert row is not None
        return int(row[0])


def schema_exists(info: str, name: str) -> bool:
    with psycopg.connect(info) as conn:
        return conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s",
                            (name,)).fetchone() is not None


def data_directory(info: str) -> str:
    with psycopg.connect(info) as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    assert row is not None
    return str(row[0])


def free_bytes(path: str) -> int:
    """Free bytes of the filesystem holding `path` (the database is on this machine)."""
    return shutil.disk_usage(path if os.path.exists(path) else "/").free


def lowest_priority(pid: int) -> str:
    """Renice a PostgreSQL backend of this machine to 19 and idle I/O; says what it did
    (root is needed for another user's process: the bench then says so and goes on)."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, 19)
    except OSError as err:
        return f"backend {pid} not reniced ({err.strerror})"
    ionice = subprocess.run(["ionice", "-c3", "-p", str(pid)], capture_output=True, check=False)
    return f"backend {pid} at nice 19" + (", idle I/O" if ionice.returncode == 0 else "")


def fill(info: str, target: int, payloads: tuple[str, str], min_free: int,
         say: Callable[[str], None]) -> Filled:
    """Add filler events (check-in / check-out payloads alternating, and their stays and
    guests) until `target` events are stored, checking the free space before each step.
    Raises DiskLow (what was added stays, committed) when under `min_free` bytes."""
    have = stored_events(info)
    if have >= target:
        return Filled(0, 0.0)
    where = data_directory(info)
    tag = secrets.token_hex(4)
    started = time.monotonic()
    added = 0
    with psycopg.connect(info, autocommit=True) as conn:
        say(f"     fill to {target:,}: {lowest_priority(conn.info.backend_pid)}")
        for first in range(0, target - have, STEP):
            free = free_bytes(where)
            if free < min_free:
                raise DiskLow(f"{free / 1e9:.1f} GB free on the database's filesystem after "
                              f"{have + added:,} events (limit {min_free / 1e9:.0f} GB)")
            last = min(first + STEP, target - have) - 1
            params = {"tag": tag, "first": first, "last": last, "check_in": payloads[0],
                      "check_out": payloads[1], "base": 1_000_000}
            conn.execute(FILL, params)
            conn.execute(FILL_STAYS, {**params, "first": first // 2, "last": last // 2})
            conn.execute(FILL_GUESTS, {**params, "first": first // 2, "last": last // 2})
            added += last - first + 1
            say(f"     filled {have + added:,} events, {free_bytes(where) / 1e9:.0f} GB free "
                f"({load()})")
        for table in ("events", "stays", "stay_guests"):
            conn.execute(f"VACUUM ANALYZE {table}")
        conn.execute("CHECKPOINT")  # else the fill's dirty pages are written during the next run
    return Filled(added, time.monotonic() - started)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def table_sizes(info: str) -> str:
    """Sizes (heap, TOAST, indexes) of the growing tables and of the whole schema."""
    with psycopg.connect(info) as conn:
        rows = conn.execute(
            "SELECT c.relname, sum(pg_total_relation_size(i.inhrelid)) FROM pg_class c "
            "JOIN pg_inherits i ON i.inhparent = c.oid WHERE c.relname IN "
            "('events', 'stays', 'stay_guests') AND c.relnamespace = "
            "CAST(current_schema() AS regnamespace) GROUP BY c.relname").fetchall()
        feed = conn.execute("SELECT pg_total_relation_size('feed_log')").fetchone()
        whole = conn.execute(
            "SELECT sum(pg_total_relation_size(oid)) FROM pg_class WHERE relkind IN ('r', 'm') "
            "AND relnamespace = CAST(current_schema() AS regnamespace)").fetchone()
    sizes = {name: int(size) for name, size in rows}
    sizes["feed_log"] = int(feed[0]) if feed else 0
    listed = ", ".join(f"{k} {v / 2**30:,.2f} GiB" for k, v in sorted(sizes.items()))
    return f"{listed}; schema {int(whole[0] or 0) / 2**30:,.2f} GiB" if whole else listed
