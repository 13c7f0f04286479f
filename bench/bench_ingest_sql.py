"""The SQL side of ingest: PostgreSQL CPU per event, per statement, in-process (issue 19).

Run: .venv/bin/python bench/bench_ingest_sql.py [--devices 8] [--batches 5] [--batch 200]
         [--checkouts] [--threads] [--sql "DDL run after migrating" ...]

A fresh schema of the machine's PostgreSQL (tests/pgschema.py; ANJU_TEST_PG names another
server, which must run on this machine: its backends' CPU is read from /proc). --devices
devices each ingest --batches batches of --batch check-ins (one guest, 1 KB photo) through
central/devices/ingest.py, no HTTP; --checkouts follows each with a batch checking those stays
out (the path of stays stored already). CPU is the backend's own time on CPU
(/proc/PID/schedstat, nanoseconds): on a shared machine it moves far less than wall time.

Prints the backend CPU per event, split by statement (COPY and COMMIT are not statements
SQLAlchemy sees: they are the unattributed rest), the client's CPU per event, then the CPU of
VACUUM ANALYZE of each written table per event (what autovacuum will spend on them).
--threads: one thread per device at once (the contention of concurrent batches); then only the
total is meaningful. --sql: try a schema change (drop an index, a storage setting) on the
same run. Asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import Engine, event, insert, text  # noqa: E402

from central.db import tables  # noqa: E402
from central.db.engine import make_engine  # noqa: E402
from central.devices import enrolment, ingest  # noqa: E402
from central.devices.authentication import Device  # noqa: E402
from central.migrate import migrate  # noqa: E402
from sync.protocol import BatchEnvelope, SenderClock, WireEvent  # noqa: E402
from tests.pgschema import create_schema, drop_schema  # noqa: E402
from tests.sync.wire_helpers import EventChain, guest  # noqa: E402

PHOTO = base64.b64encode(secrets.token_bytes(1024)).decode("ascii")
WRITTEN = ("events", "stays", "stay_guests", "feed_log", "stay_owners")
Work = list[tuple[Device, list[WireEvent]]]


def on_cpu_s(pid: int) -> float:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def prepare(engine: Engine, args: argparse.Namespace) -> Work:
    chains = []
    for n in range(args.devices):
        site = f"BQ{n}"
        enrolment.add_site(engine, site, "测试旅馆")
        with engine.begin() as conn:
            conn.execute(insert(tables.devices).values(
                device_id=f"{site}-d", site_code=site, secret="x", installation_id="i",
                enrolled_at="2025-01-01T00:00:00.000000Z", max_sequence=0, events_stored=0,
                disabled=False))
        chains.append((Device(f"{site}-d", site, False), EventChain(f"{site}-d", site)))
    work: Work = []
    for _ in range(args.batches):
        for device, chain in chains:
            check_ins = [chain.check_in(guests=[guest(name=f"压测{chain.sequence}",
                                                      photo_wlt_b64=PHOTO)])
                         for _ in range(args.batch)]
            work.append((device, check_ins))
            if args.checkouts:
                work.append((device, [chain.check_out(e) for e in check_ins]))
    return work


def run(engine: Engine, work: Work) -> None:
    for device, batch in work:
        now = datetime.now(UTC)
        clock = SenderClock(now.strftime("%Y-%m-%dT%H:%M:%S.000000Z"), True, 1, "boot-1")
        envelope = BatchEnvelope(device.device_id, device.site_code, clock, batch,
                                 [e.event_id for e in batch])
        ingest.ingest(engine, device, envelope, now)


def backends(engine: Engine, application: str) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = :a"),
            {"a": application}).scalars())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=8)
    parser.add_argument("--batches", type=int, default=5, help="per device")
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--checkouts", action="store_true")
    parser.add_argument("--threads", action="store_true")
    parser.add_argument("--sql", action="append", default=[])
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    url, schema = create_schema("bench_sql")
    application = f"bench_sql_{secrets.token_hex(3)}"
    engine = make_engine(f"{url}&application_name={application}",
                         pool_size=args.devices if args.threads else 1)
    try:
        migrate(engine)
        with engine.begin() as conn:
            for statement in args.sql:
                conn.exec_driver_sql(statement)
        work = prepare(engine, args)
        events = sum(len(batch) for _, batch in work)
        per: defaultdict[str, list[float]] = defaultdict(lambda: [0.0, 0])
        if args.threads:
            groups: defaultdict[str, Work] = defaultdict(list)
            for item in work:
                groups[item[0].device_id].append(item)
            before = sum(on_cpu_s(p) for p in backends(engine, application))
            threads = [threading.Thread(target=run, args=(engine, g)) for g in groups.values()]
            started = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            database = sum(on_cpu_s(p) for p in backends(engine, application)) - before
            client = float("nan")
        else:
            (pid,) = backends(engine, application)
            mark = [0.0]

            def _before(*_: Any) -> None:
                mark[0] = on_cpu_s(pid)

            def _after(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
                spent = per[" ".join(statement.split())[:100]]
                spent[0] += on_cpu_s(pid) - mark[0]
                spent[1] += 1

            event.listen(engine, "before_cursor_execute", _before)
            event.listen(engine, "after_cursor_execute", _after)
            before, client_before = on_cpu_s(pid), time.thread_time()
            started = time.monotonic()
            run(engine, work)
            database = on_cpu_s(pid) - before
            client = time.thread_time() - client_before
        wall = time.monotonic() - started
        print(f"{events:,} events in {len(work)} batches, {wall:.1f} s ({load()})")
        print(f"  PostgreSQL backend CPU {1000 * database / events:.3f} ms per event"
              + ("" if args.threads else f", client {1000 * client / events:.3f} ms"))
        if per:
            attributed = sum(spent for spent, _ in per.values())
            print(f"  per statement, us per event (COPY, COMMIT and the rest: "
                  f"{1e6 * (database - attributed) / events:.1f})")
            for key, (spent, calls) in sorted(per.items(), key=lambda kv: -kv[1][0])[:args.top]:
                print(f"    {1e6 * spent / events:6.1f} {calls:5d}x {key}")
        maintenance = []
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            for table in WRITTEN:
                spent = on_cpu_s(pid)
                conn.execute(text(f"VACUUM ANALYZE {table}"))
                maintenance.append((table, on_cpu_s(pid) - spent))
        total = sum(spent for _, spent in maintenance)
        print(f"  VACUUM ANALYZE {1000 * total / events:.3f} ms per event: "
              + ", ".join(f"{t} {1e6 * s / events:.1f} us" for t, s in maintenance))
    except psycopg.Error as err:
        print(f"PostgreSQL: {err}")
    finally:
        engine.dispose()
        drop_schema(schema)


if __name__ == "__main__":
    main()
