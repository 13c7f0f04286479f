"""The fleet page, a /metrics scrape and the purge's plan with a province's heartbeats held.

Run: .venv/bin/python bench/bench_fleet_page.py [--devices 5000] [--heartbeats 2000000]
         [--repeat 3] [--audit-rows 2000000]

A fresh schema of the machine's PostgreSQL (tests/pgschema.py), migrated; --devices devices at
50 sites and --heartbeats heartbeats spread over them and over 8 days (the first day's are
older than the purge's 7-day retention), written server-side
(INSERT ... SELECT generate_series), then each device row names its latest heartbeat as
migration 0019 fills it (timed: what the migration costs at this size), then ANALYZE.

Measured, median of --repeat, in the same run:
  baseline  the latest heartbeat of each device found as before migration 0019:
            SELECT device_id, max(id) FROM heartbeats GROUP BY device_id, and the purge's
            count of old heartbeats keeping those
  product   central.fleet.list_devices (the fleet page's and every scrape's query, joined on
            devices.last_heartbeat_id), central.serving.metrics.render (a whole scrape) and
            central.devices.history.plan (the purge's dry run, a 7-day heartbeat retention),
            and once its delete (purge_in, rolled back): one statement, which is why the
            purge's statements are allowed --statement-timeout (default 30 min)
  audit     --audit-rows rows in the audit log: counted whole at each scrape (the baseline)
            against metrics.AuditRows (whole once per process, then the rows added since)
A province holds ~100 M heartbeats with the default retention of 7 days (docs/scale.md); the
baseline grows with them, the product's queries with the devices. Prints figures, asserts
nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402

from central.db.bounds import DbBounds  # noqa: E402
from central.db.engine import make_engine  # noqa: E402
from central.devices import history  # noqa: E402
from central.fleet import FleetPolicy, list_devices  # noqa: E402
from central.migrate import migrate  # noqa: E402
from central.serving import metrics  # noqa: E402
from tests.pgschema import PostgresUnavailable, create_schema, drop_schema  # noqa: E402

NOW = "2026-12-06T08:00:00.000000Z"
RETENTION_CUT = "2026-11-29T08:00:00.000000Z"  # 7 days before NOW


def timed(what: Callable[[], object], repeat: int) -> float:
    took = []
    for _ in range(repeat):
        started = time.perf_counter()
        what()
        took.append(time.perf_counter() - started)
    return statistics.median(took)


def fill(engine: object, devices: int, beats: int) -> float:
    """Sites, devices and heartbeats; returns the seconds of migration 0019's fill."""
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text(
            "INSERT INTO sites (code, name, created_at) SELECT 'S' || s, '旅馆' || s, :now "
            "FROM generate_series(1, 50) s"), {"now": NOW})
        conn.execute(text(
            "INSERT INTO devices (device_id, site_code, secret, installation_id, enrolled_at, "
            "disabled, max_sequence, events_stored) SELECT 'D' || d, 'S' || (1 + d % 50), 's', "
            "'i', :now, false, 0, 0 FROM generate_series(1, :devices) d"),
            {"now": NOW, "devices": devices})
        conn.execute(text(
            "INSERT INTO heartbeats (device_id, received_at, software_version, backlog, "
            "oldest_queued_age_s, rejected, reader_status, disk_free_bytes, clock_synchronised, "
            "clock_offset_ms) SELECT 'D' || (1 + n % :devices), to_char(timestamp '2026-11-28 "
            "08:00' + (n * interval '8 days' / :beats) + interval '1 second', "
            "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), '1.0', n % 7, NULL, 0, 'ok', 1000000000, "
            "true, 0 FROM generate_series(1, :beats) n"), {"devices": devices, "beats": beats})
    started = time.perf_counter()
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text(  # migration 0019's own statement
            "UPDATE devices SET last_heartbeat_id = "
            "(SELECT max(h.id) FROM heartbeats h WHERE h.device_id = devices.device_id)"))
    took = time.perf_counter() - started
    with engine.connect() as conn:  # type: ignore[attr-defined]
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("ANALYZE heartbeats, devices"))
    return took


def fill_audit(engine: object, rows: int, start: int = 1) -> None:
    """Audit rows written server-side (not a valid chain: a count needs none)."""
    with engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(text(
            "INSERT INTO audit_log (at, username, role, action, reason, query, result_count, "
            "prev_sha256, row_sha256) SELECT :now, 'officer', 'officer', 'search', '案件', "
            "'{}', 1, md5(n::text) || md5(n::text), md5(n::text) || md5((n + 1)::text) "
            "FROM generate_series(:start, :end) n"), {"now": NOW, "start": start,
                                                     "end": start + rows - 1})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=5000)
    parser.add_argument("--heartbeats", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--audit-rows", type=int, default=2_000_000)
    args = parser.parse_args()
    try:
        url, schema = create_schema("bench_fleet")
    except PostgresUnavailable as err:
        print(f"PostgreSQL unavailable: {err}")
        return
    # No statement bound: a server's (10 s) would cut the fill, and the baseline at a
    # province's size.
    engine = make_engine(url, pooled=False, bounds=DbBounds(statement_timeout_s=0))
    try:
        migrate(engine)
        started = time.perf_counter()
        backfill_s = fill(engine, args.devices, args.heartbeats)
        print(f"{args.devices:,} devices, {args.heartbeats:,} heartbeats over 8 days "
              f"(filled in {time.perf_counter() - started:.1f} s); load "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"  migration 0019's fill of devices.last_heartbeat_id   {backfill_s:8.3f} s")
        fill_audit(engine, args.audit_rows)
        with engine.connect() as conn:  # as autovacuum would have, long since
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("ANALYZE audit_log"))

        def baseline() -> None:
            with engine.connect() as conn:
                conn.execute(text(
                    "SELECT device_id, max(id) FROM heartbeats GROUP BY device_id")).all()

        def baseline_plan() -> None:
            with engine.connect() as conn:
                conn.execute(text(
                    "SELECT count(*) FROM heartbeats WHERE received_at < :cut AND id NOT IN "
                    "(SELECT max(id) FROM heartbeats GROUP BY device_id)"),
                    {"cut": RETENTION_CUT}).scalar_one()

        policy = FleetPolicy()
        old = timed(baseline, args.repeat)
        old_plan = timed(baseline_plan, args.repeat)
        page = timed(lambda: list_devices(engine), args.repeat)
        scraped = metrics.AuditRows()  # the server's: counted whole at its first scrape
        scrape = timed(lambda: metrics.render(engine, policy, scraped), args.repeat)
        with engine.connect() as conn:
            plan = timed(lambda: history.plan(conn, RETENTION_CUT, "2026-11-01"), args.repeat)
        with engine.connect() as conn:  # the delete itself, once, rolled back
            started = time.perf_counter()
            removed = history.purge_in(conn, RETENTION_CUT, "2026-11-01")["heartbeats"]
            delete_s = time.perf_counter() - started
            conn.rollback()
        print(f"  baseline: each device's latest by max(id) GROUP BY  {old:8.3f} s")
        print(f"  list_devices (the fleet page's query, whole)       {page:8.3f} s   "
              f"ratio to the baseline {page / old:.3f}")
        print(f"  a /metrics scrape (metrics.render)                  {scrape:8.3f} s")
        print(f"  baseline: the purge's count, latest by GROUP BY     {old_plan:8.3f} s")
        print(f"  the purge's plan (history.plan, 7-day retention)    {plan:8.3f} s   "
              f"ratio to its baseline {plan / old_plan:.3f}")
        print(f"  the purge's delete of {removed:,} heartbeats (rolled back) {delete_s:8.3f} s")

        def count_all() -> None:
            with engine.connect() as conn:
                conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()

        audit_rows = metrics.AuditRows()
        with engine.connect() as conn:
            started = time.perf_counter()
            audit_rows.read(conn)
            first_s = time.perf_counter() - started
        took = []
        for i in range(args.repeat):
            fill_audit(engine, 10, args.audit_rows + 1 + 10 * i)  # ten searches since
            with engine.connect() as conn:
                started = time.perf_counter()
                audit_rows.read(conn)
                took.append(time.perf_counter() - started)
        since = statistics.median(took)
        whole = timed(count_all, args.repeat)
        print(f"  baseline: count(*) of {args.audit_rows:,} audit rows, each scrape "
              f"{whole:8.3f} s")
        print(f"  AuditRows: the first scrape {first_s:.3f} s, a scrape after ten new rows "
              f"{since:.4f} s   ratio to the baseline {since / whole:.3f}")
    finally:
        engine.dispose()
        drop_schema(schema)


if __name__ == "__main__":
    main()
