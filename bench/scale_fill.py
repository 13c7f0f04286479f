"""Filling a schema with millions of events server-side, for bench_ingest_scale.py's `stored` part.

The rows are made by PostgreSQL itself (INSERT ... SELECT generate_series): a client's COPY
would put its own CPU on the same two cores as the server. One stay and one guest per two
events (a check-in carrying the guest's 1 KB photo, and a check-out); guest names are CJK
characters spread like real ones, so that the trigram and bigram indexes grow as they would.

A filled schema can be kept (`kept_schema`): created if missing, migrated, never dropped, so
that a later run of new code measures at 20 M events without an hour of refilling.

The fill holds no index: before its first step it records the definitions of the filled
tables' indexes (primary keys and secondary indexes, on the partitioned parents, from
pg_constraint / pg_get_indexdef) in a table of the schema, drops them, inserts in steps of
STEP events, then creates them again as they were (maintenance_work_mem raised, parallel
workers for the B-trees) and runs VACUUM ANALYZE. Maintaining B-trees on random UUIDs and the
names' GIN indexes row by row was most of the fill's cost, and grew with the data once their
pages outgrew shared_buffers; built at the end, the same indexes cost a sort each. The rows
and the index definitions are the same; the rebuilt B-trees are packed (fillfactor 90) where
ones grown by random inserts are about 70 % full, so the filled indexes are somewhat smaller
than a year of real ingest would leave. A fill that was interrupted leaves the recorded
definitions behind: the next fill (or `restore_indexes`) creates them first.

The fill's PostgreSQL backend is reniced (`nice`, 19 by default: the machine is shared), and
the fill stops between steps when the filesystem of the database runs short of space, keeping
room for the indexes it must build again.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

STEP = 1_000_000  # events per INSERT: one transaction of ~2.5 GB, the unit of the free-space check
PENDING = "bench_fill_dropped_indexes"  # definitions of the indexes a fill has dropped
FILLED = ("events", "stays", "stay_guests")
INDEX_BYTES_PER_EVENT = 600  # the filled tables' indexes, with their sort files, per event

FILL = """
INSERT INTO events (event_id, receipt, device_id, site_code, sequence, kind, stay_id,
    wall_time, clock_synchronised, monotonic_ns, boot_id, operator, payload, payload_sha256,
    prev_chain_sha256, chain_sha256, received_at, clock_offset_ms, corrected_time,
    time_source, stay_month)
SELECT md5(%(tag)s::text || i)::uuid::text, 'R' || substr(md5('r' || %(tag)s::text || i), 1, 24),
    'FILL-' || (i %% 50000), 'FS' || (i %% 50000), %(base)s::bigint + i / 50000,
    CASE WHEN i %% 2 = 0 THEN 'check_in' ELSE 'check_out' END,
    md5('s' || %(tag)s::text || (i / 2))::uuid::text,
    %(now)s::text, true, i, 'boot', '0007',
    CASE WHEN i %% 2 = 0 THEN %(check_in)s::text ELSE %(check_out)s::text END,
    md5(i::text) || md5(i::text), md5('p' || i) || md5('p' || i),
    md5('c' || i) || md5('c' || i), %(now)s::text, 0,
    %(now)s::text, 'device', %(month)s::text
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS i
"""
FILL_STAYS = """
INSERT INTO stays (stay_id, device_id, site_code, room, status, complete, checked_in_at,
    checked_out_at, time_corrected, event_count, updated_at, stay_month)
SELECT md5('s' || %(tag)s::text || j)::uuid::text, 'FILL-' || (j %% 50000), 'FS' || (j %% 50000),
    (100 + j %% 40)::text, 'checked_out', true,
    to_char(now() - (j %% 300) * interval '1 hour', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    %(now)s::text, false, 2,
    %(now)s::text, %(month)s::text
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
    %(now)s::text,
    %(now)s::text, %(month)s::text
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS j
"""


class DiskLow(Exception):
    """The database's filesystem has less free space than the bench may leave."""


@dataclass(frozen=True)
class Filled:
    added: int
    seconds: float
    backend_cpu: float = 0.0  # seconds of the fill's own PostgreSQL backend (not its workers)

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


def renice(pid: int, nice: int) -> str:
    """Renice a PostgreSQL backend of this machine (idle I/O too at 19); says what it did
    (root is needed for another user's process: the bench then says so and goes on)."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
    except OSError as err:
        return f"backend {pid} not reniced ({err.strerror})"
    if nice < 19:
        return f"backend {pid} at nice {nice}"
    ionice = subprocess.run(["ionice", "-c3", "-p", str(pid)], capture_output=True, check=False)
    return f"backend {pid} at nice 19" + (", idle I/O" if ionice.returncode == 0 else "")


_INDEXES = """
SELECT format('ALTER TABLE %%s ADD CONSTRAINT %%I %%s', c.conrelid::regclass, c.conname,
              pg_get_constraintdef(c.oid)),
       format('ALTER TABLE %%s DROP CONSTRAINT %%I', c.conrelid::regclass, c.conname),
       c.conindid AS created
FROM pg_constraint c
WHERE c.conrelid = ANY(CAST(%(tables)s AS regclass[])) AND c.contype IN ('p', 'u')
UNION ALL
SELECT replace(pg_get_indexdef(i.indexrelid), ' ON ONLY ', ' ON '),
       format('DROP INDEX %%s', i.indexrelid::regclass),
       i.indexrelid
FROM pg_index i
WHERE i.indrelid = ANY(CAST(%(tables)s AS regclass[]))
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
ORDER BY created  -- partitions' indexes are named in their parents' order: kept
"""


def drop_indexes(conn: psycopg.Connection) -> int:
    """Record (in PENDING) and drop the filled tables' constraints' and secondary indexes;
    how many. Partitions' indexes go with their parents'."""
    restore_indexes(conn)  # an interrupted fill's first
    rows = conn.execute(_INDEXES, {"tables": list(FILLED)}).fetchall()
    with conn.transaction():
        conn.execute(f"CREATE TABLE {PENDING} (position int PRIMARY KEY, definition text)")
        for position, (definition, _drop, _created) in enumerate(rows):
            conn.execute(f"INSERT INTO {PENDING} VALUES (%s, %s)", (position, definition))
        for _definition, drop, _created in rows:
            conn.execute(drop)
    return len(rows)


def restore_indexes(conn: psycopg.Connection) -> int:
    """Create the indexes a fill recorded in PENDING, in order; how many (0: none pending)."""
    if conn.execute("SELECT to_regclass(%s)", (PENDING,)).fetchone() == (None,):
        return 0
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute("SET max_parallel_maintenance_workers = 2")
    definitions = [row[0] for row in conn.execute(
        f"SELECT definition FROM {PENDING} ORDER BY position")]
    for definition in definitions:
        with conn.transaction():  # each index and its record together
            conn.execute(definition)
            conn.execute(f"DELETE FROM {PENDING} WHERE definition = %s", (definition,))
    conn.execute(f"DROP TABLE {PENDING}")
    return len(definitions)


def fill(info: str, target: int, payloads: tuple[str, str], min_free: int,
         say: Callable[[str], None], nice: int = 19) -> Filled:
    """Add filler events (check-in / check-out payloads alternating, and their stays and
    guests) until `target` events are stored, checking the free space (beside room for the
    indexes) before each step; indexes dropped meanwhile and built again at the end.
    Raises DiskLow (what was added stays, committed, indexed) when under `min_free` bytes."""
    have = stored_events(info)
    if have >= target:
        return Filled(0, 0.0)
    where = data_directory(info)
    tag = secrets.token_hex(4)
    now = datetime.now(UTC)
    started = time.monotonic()
    added = 0
    with psycopg.connect(info, autocommit=True) as conn:
        pid = conn.info.backend_pid
        cpu = cpu_seconds(pid)
        say(f"     fill to {target:,}: {renice(pid, nice)}; "
            f"{drop_indexes(conn)} indexes dropped meanwhile")
        try:
            for first in range(0, target - have, STEP):
                last = min(first + STEP, target - have) - 1
                free = free_bytes(where)
                room = INDEX_BYTES_PER_EVENT * (have + last + 1)
                if free - room < min_free:
                    raise DiskLow(f"{free / 1e9:.1f} GB free on the database's filesystem after "
                                  f"{have + added:,} events, {room / 1e9:.1f} GB of it for "
                                  f"the indexes (limit {min_free / 1e9:.0f} GB)")
                params = {"tag": tag, "first": first, "last": last, "check_in": payloads[0],
                          "check_out": payloads[1], "base": 1_000_000,
                          "now": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                          "month": now.strftime("%Y-%m")}
                conn.execute(FILL, params)
                conn.execute(FILL_STAYS, {**params, "first": first // 2, "last": last // 2})
                conn.execute(FILL_GUESTS, {**params, "first": first // 2, "last": last // 2})
                added += last - first + 1
                say(f"     filled {have + added:,} events, {free_bytes(where) / 1e9:.0f} GB "
                    f"free ({load()}; {time.monotonic() - started:,.0f} s)")
        finally:
            built = time.monotonic()
            count = restore_indexes(conn)
            say(f"     {count} indexes built in {time.monotonic() - built:,.0f} s ({load()})")
        for table in FILLED:
            conn.execute(f"VACUUM ANALYZE {table}")
        conn.execute("CHECKPOINT")  # else the fill's dirty pages are written during the next run
        backend = cpu_seconds(pid) - cpu
    return Filled(added, time.monotonic() - started, backend)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process of this machine (PostgreSQL backends included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
