"""Ingest at province scale (issue 19, section 4): events/s through nginx against COPY.

Run: .venv/bin/python bench/bench_ingest_scale.py [--seconds 20] [--terminals 8] [--batch 200]
         [--fill 1000000,5000000] [--parts local,standby,stored,size] [--repeat 1]
         [--schema NAME] [--min-free-gb 12] [--fill-nice 19]

Every configuration is started here: `anju central serve` processes behind nginx on the sample
site deploy/ha/nginx-anju-central.conf (TLS), on a fresh schema of the machine's PostgreSQL
(tests/pgschema.py) or on a pair with a synchronous standby (tests/pgpair.py).
--terminals threads (the terminal's SyncClient: signed gzip batches of --batch check-ins, one
guest with a 1 KB photo each; events and gzip bodies made before the clock starts, each
request signed when sent) upload for --seconds.

1. local: the machine's PostgreSQL (synchronous_commit on, no standby), 1 and 2 app servers;
   then the same rows (everything the two runs stored, read back) written by COPY into the
   events table of a fresh schema: the ceiling, and ingest's ratio to it
2. standby: a pair with a synchronous standby, 2 app servers, and COPY of the same rows into
   its primary: the cost of "durable on two machines" against 1. and against its own COPY
3. stored: first 2 app servers on a fresh, empty schema (the base of the ratios, in this
   run, unless 1. measured it), then the schema of 1. (or --schema NAME, kept: created if
   missing, never dropped, so a later run measures new code at the same size without
   refilling) filled to each --fill count of events (one stay and one guest per two events,
   names searchable by trigram like real ones) server-side with INSERT ... SELECT
   generate_series (bench/scale_fill.py: the filled tables' indexes dropped meanwhile and
   built again at the end; its backend at --fill-nice, stopped under --min-free-gb), then
   ingest again with 2 app servers (--repeat times, median): how the rate and the CPU per
   event change with the data held

4. size: --stays stays ingested in-process (a check-in of one or two guests, each with a 1 KB
   WLT photo, then a check-out) into a fresh schema, VACUUM ANALYZE, then bytes per stay of
   each growing table (heap, TOAST and indexes): the basis of docs/scale.md's sizes

Prints figures and ratios, asserts nothing. The machine is shared: the load average is printed
with every figure; compare the ratios, measured in the same run.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.scale_fill import (  # noqa: E402
    DiskLow,
    cpu_seconds,
    fill,
    load,
    stored_events,
    table_sizes,
)
from central.db.engine import make_engine  # noqa: E402
from central.migrate import migrate  # noqa: E402
from sync.body import encode_batch  # noqa: E402
from sync.protocol import Batch, SenderClock  # noqa: E402
from terminal.system import ids  # noqa: E402
from tests.central.central_helpers import Admin  # noqa: E402
from tests.ha.hasite import HaSite, send_until_answered  # noqa: E402
from tests.pgpair import PgPair  # noqa: E402
from tests.pgschema import PG_URL, create_schema, drop_schema  # noqa: E402
from tests.sync.wire_helpers import EventChain, guest  # noqa: E402

PHOTO = base64.b64encode(secrets.token_bytes(1024)).decode("ascii")
# Real terminals make UUIDv7 ids (terminal/system/ids.py): their inserts land at the right-hand
# edge of the server's B-trees, which stays in memory however much is stored; uuid4 lands on
# random pages, which at 20 M events no longer fit (docs/scale.md).
IDS = {"uuid7": ids.new_id, "uuid4": lambda: str(uuid.uuid4())}


def conninfo(url: str) -> str:
    """A psycopg conninfo from an SQLAlchemy URL (search_path option kept)."""
    parsed = make_url(url)
    parts = [f"host={parsed.host}", f"port={parsed.port or 5432}", f"dbname={parsed.database}",
             f"user={parsed.username}"]
    options = parsed.query.get("options")
    if options:
        parts.append(f"options='{options}'")
    return " ".join(parts)


@contextmanager
def site(db_url: str, servers: int) -> Iterator[HaSite]:
    base = Path(tempfile.mkdtemp(prefix="anju-bench-scale-"))
    try:
        with HaSite(db_url, base, servers=servers) as running:
            assert running.nginx is not None
            os.environ["REQUESTS_CA_BUNDLE"] = str(running.nginx.ca)
            yield running
    finally:
        shutil.rmtree(base, ignore_errors=True)


def ingest_rate(db_url: str, url: str, args: argparse.Namespace) -> tuple[float, float, int]:
    """(events acknowledged per second, median batch round trip in ms, events acknowledged)."""
    with Admin(db_url, url) as admin:
        terminals = [admin.device() for _ in range(args.terminals)]
        per_terminal = int(args.seconds * args.pool_rate / args.terminals) + args.batch
        batches = []
        make_id = IDS[args.ids]
        for _client, chain in terminals:
            chain.ids = make_id
            # Events and their gzip JSON bodies are made before the clock starts: terminals
            # are other machines, and making a body cost this process 0.07 ms of CPU per
            # event on the two cores the server uses. Each request is still signed when sent
            # (a fresh nonce and timestamp) and the server checks everything as ever.
            events = [chain.check_in(guests=[guest(name=f"压测{chain.sequence}", guest_id=make_id(),
                                                   photo_wlt_b64=PHOTO)])
                      for _ in range(per_terminal)]
            batches.append([(part, encode_batch(Batch(chain.device_id, chain.site_code,
                                                      SenderClock.system(), tuple(part))))
                            for part in (events[i:i + args.batch]
                                         for i in range(0, len(events), args.batch))])
        counts = [0] * len(terminals)
        took: list[float] = []
        stop = time.monotonic() + args.seconds

        def upload(i: int) -> None:
            client = terminals[i][0]
            for batch, body in batches[i]:
                if time.monotonic() >= stop:
                    return
                counts[i] += send_until_answered(client, batch, took, body)

        started = time.monotonic()
        threads = [threading.Thread(target=upload, args=(i,)) for i in range(len(terminals))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
    if elapsed < args.seconds * 0.95:
        print(f"  (the built events ran out after {elapsed:.1f} s: raise --pool-rate)")
    median = statistics.median(took) * 1000 if took else float("nan")
    return sum(counts) / elapsed, median, sum(counts)


def read_events(info: str) -> tuple[list[str], bytes]:
    """Every stored event row, as COPY text."""
    buffer = io.BytesIO()
    with psycopg.connect(info) as conn, conn.cursor() as cur:
        names = [r[0] for r in cur.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "current_schema() AND table_name = 'events' ORDER BY ordinal_position")]
        with cur.copy(f"COPY (SELECT {', '.join(names)} FROM events) TO STDOUT") as copy:
            for block in copy:
                buffer.write(block)
    return names, buffer.getvalue()


def copy_rate(info: str, names: list[str], data: bytes) -> tuple[float, int]:
    """(rows/s, rows) of COPY of `data` into the (migrated, empty) events table of `info`,
    one transaction, committed."""
    rows = data.count(b"\n")
    with psycopg.connect(info) as conn, conn.cursor() as cur:
        pid = conn.info.backend_pid
        cpu = cpu_seconds(pid)
        started = time.monotonic()
        with cur.copy(f"COPY events ({', '.join(names)}) FROM STDIN") as copy:
            view = memoryview(data)
            for start in range(0, len(data), 1 << 20):
                copy.write(view[start:start + (1 << 20)])
        conn.commit()
        elapsed = time.monotonic() - started
        CPU_COST.append((0.0, 1000 * (cpu_seconds(pid) - cpu) / rows))
        return rows / elapsed, rows


def fresh_migrated(prefix: str) -> tuple[str, str]:
    url, schema = create_schema(prefix)
    engine = make_engine(url, pooled=False)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return url, schema


def sample_payloads() -> tuple[str, str]:
    """A check-in as measure() sends it (one guest, 1 KB photo) and its check-out."""
    chain = EventChain("FILL-0", "FS0")
    check_in = chain.check_in(guests=[guest(name="压测", photo_wlt_b64=PHOTO)])
    check_out = chain.check_out(check_in)
    assert check_in.payload is not None and check_out.payload is not None
    return check_in.payload, check_out.payload


def kept_schema(name: str) -> str:
    """The URL of schema `name`, created if missing and migrated; never dropped here."""
    with psycopg.connect(conninfo(PG_URL), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{name}"')
    url = f"{PG_URL}?options=-csearch_path%3D{name}"
    engine = make_engine(url, pooled=False)
    try:
        migrate(engine)
    finally:
        engine.dispose()
    return url


CPU_COST: list[tuple[float, float]] = []  # (app, PostgreSQL) CPU ms per event, per measure()


def backends(db_url: str, application: str) -> list[int]:
    info = conninfo(db_url) if "@/" not in db_url else None
    with psycopg.connect(info or _primary(db_url)) as conn:
        return [int(r[0]) for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application,))]


def _primary(db_url: str) -> str:
    """The first host of a libpq multi-host URL (the pair's primary)."""
    host, port = db_url.split("host=", 1)[1].split("&", 1)[0].split(":")
    return f"host={host} port={port} user=postgres dbname={make_url(db_url).database}"


def measure(label: str, db_url: str, servers: int, args: argparse.Namespace) -> float:
    """Events/s through nginx; also the CPU the app servers and their PostgreSQL backends
    spent per acknowledged event (a figure the machine's other load hardly changes)."""
    application = f"bench_scale_{secrets.token_hex(3)}"
    tagged = db_url + ("&" if "?" in db_url else "?") + f"application_name={application}"
    with site(tagged, servers) as running:
        pids = [s.process.pid for s in running.servers if s.process is not None]
        app_before = sum(cpu_seconds(p) for p in pids)
        before = load()
        rate, median, events = ingest_rate(db_url, running.url, args)
        app = sum(cpu_seconds(p) for p in pids) - app_before
        database = sum(cpu_seconds(p) for p in backends(db_url, application))
    CPU_COST.append((1000 * app / events, 1000 * database / events))
    print(f"  {label:44} {rate:7.0f} events/s, median batch {median:6.0f} ms "
          f"({before} -> {load()})", flush=True)
    print(f"  {'':44} CPU per event: app {CPU_COST[-1][0]:.2f} ms, PostgreSQL "
          f"{CPU_COST[-1][1]:.2f} ms", flush=True)
    return rate


def part_size(stays: int) -> None:
    """Bytes per stay, per table, of a realistic mix ingested in-process."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from central.db import tables
    from central.devices import enrolment, ingest
    from central.devices.authentication import Device
    from sync.protocol import BatchEnvelope, SenderClock
    from tests.sync.wire_helpers import EventChain

    url, schema = fresh_migrated("bench_size")
    engine = make_engine(url)
    try:
        devices = []
        for n in range(20):
            enrolment.add_site(engine, f"SZ{n}", "测试旅馆")
            with engine.begin() as conn:
                conn.execute(insert(tables.devices).values(
                    device_id=f"SZ{n}-d", site_code=f"SZ{n}", secret="x", installation_id="i",
                    enrolled_at="2025-01-01T00:00:00.000000Z", max_sequence=0,
                    events_stored=0, disabled=False))
            devices.append((Device(f"SZ{n}-d", f"SZ{n}", False),
                            EventChain(f"SZ{n}-d", f"SZ{n}")))
        guests_total = 0
        for i in range(stays):
            device, chain = devices[i % len(devices)]
            party = [guest(name=f"测试{i}", photo_wlt_b64=PHOTO)]
            if i % 2:
                party.append(guest(name=f"同住{i}", role="companion", photo_wlt_b64=PHOTO))
            guests_total += len(party)
            check_in = chain.check_in(guests=party)
            batch = [check_in, chain.check_out(check_in)]
            now = datetime.now(UTC)
            envelope = BatchEnvelope(device.device_id, device.site_code, SenderClock(
                now.strftime("%Y-%m-%dT%H:%M:%S.000000Z"), True, 1, "boot-1"), batch,
                [e.event_id for e in batch])
            ingest.ingest(engine, device, envelope, now)
    finally:
        engine.dispose()
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        total = 0
        print(f"  {stays:,} stays, {2 * stays:,} events, {guests_total:,} guests "
              f"({guests_total / stays:.1f} per stay, 1 KB photo each); bytes per stay:")
        for name in ("events", "stays", "stay_guests", "feed_log", "stay_owners"):
            row = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(i.inhrelid)), "
                "pg_total_relation_size(CAST(%s AS regclass))) FROM pg_class c "
                "LEFT JOIN pg_inherits i ON i.inhparent = c.oid WHERE c.oid = "
                "CAST(%s AS regclass)", (name, name)).fetchone()
            assert row is not None
            total += int(row[0])
            print(f"    {name:12} {int(row[0]) / stays:8,.0f}")
        print(f"    {'total':12} {total / stays:8,.0f}")
    drop_schema(schema)


def part_stored(url: str, empty: str, base: float | None, args: argparse.Namespace) -> None:
    """Fill to each --fill target, then ingest with 2 app servers; `base` is the rate of the
    empty database with 2 app servers if part 1 measured it, else measured here on `empty`
    (a fresh schema): the ratios are to a figure of the same run."""
    where = url.split("search_path%3D", 1)[1]
    print(f"3. events already stored (2 app servers, schema {where})")
    if base is None:
        base = measure("0 events stored (fresh schema)", empty, 2, args)
    info = conninfo(url)
    payloads = sample_payloads()
    for target in (int(n) for n in args.fill.split(",")):
        try:
            filled = fill(info, target, payloads, int(args.min_free_gb * 1e9),
                          lambda line: print(line, flush=True), args.fill_nice)
        except DiskLow as err:
            print(f"     fill stopped: {err}; {table_sizes(info)}", flush=True)
            return
        if filled.added:
            print(f"     filled {filled.added:,} events in {filled.seconds:,.0f} s: "
                  f"{filled.rate:,.0f} events/s (with stays, guests, index builds); its "
                  f"backend's CPU {1e6 * filled.backend_cpu / filled.added:.0f} µs per event",
                  flush=True)
        print(f"     {table_sizes(info)}", flush=True)
        stored = stored_events(info)
        rate = statistics.median(
            measure(f"{stored:,} events stored", url, 2, args) for _ in range(args.repeat))
        print(f"  ratio to the empty database: {rate / base:.2f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--ids", choices=sorted(IDS), default="uuid7",
                        help="event, stay and guest ids of the bench's terminals: uuid7 as real "
                             "terminals make them (time-ordered), or uuid4 (random B-tree inserts)")
    parser.add_argument("--terminals", type=int, default=8)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--fill", default="1000000,5000000")
    parser.add_argument("--pool-rate", type=float, default=8000.0,
                        help="events built per second of --seconds (a terminal that uses "
                             "its share up stops early: the figure says so)")
    parser.add_argument("--parts", default="local,standby,stored,size")
    parser.add_argument("--repeat", type=int, default=1, help="alternated runs of 1. (median)")
    parser.add_argument("--stays", type=int, default=4000, help="stays of the size part")
    parser.add_argument("--schema", help="3. on this schema of the machine's PostgreSQL: "
                        "created if missing, migrated, filled up to each --fill target, never "
                        "dropped (a later run measures at the same size without refilling; "
                        "--fill 0 measures what it holds)")
    parser.add_argument("--min-free-gb", type=float, default=12.0,
                        help="stop filling when the database's filesystem has less free space")
    parser.add_argument("--fill-nice", type=int, default=19,
                        help="niceness of the fill's PostgreSQL backend (19: idle I/O too)")
    args = parser.parse_args()
    parts = args.parts.split(",")
    print(f"{args.terminals} terminals, batches of {args.batch} check-ins (1 KB photo each), "
          f"{args.seconds:g} s per figure; {load()}")
    if parts == ["size"]:
        print("4. size")
        part_size(args.stays)
        return
    url, schema = fresh_migrated("bench_scale")
    schemas = [schema]
    try:
        local: dict[int, float] = {}
        if "local" in parts:
            print("1. the machine's PostgreSQL, through nginx")
            runs: dict[int, list[float]] = {1: [], 2: []}
            for _ in range(args.repeat):  # alternated: the machine's load drifts
                for servers in (1, 2):
                    runs[servers].append(measure(f"{servers} app server(s)", url, servers, args))
            local = {n: statistics.median(rates) for n, rates in runs.items()}
            if args.repeat > 1:
                print(f"  medians: 1 server {local[1]:.0f}, 2 servers {local[2]:.0f} events/s")
            names, data = read_events(conninfo(url))
            target, target_schema = fresh_migrated("bench_scale_copy")
            schemas.append(target_schema)
            ceiling, rows = copy_rate(conninfo(target), names, data)
            print(f"  {'COPY of the same ' + format(rows, ',') + ' rows (ceiling)':44} "
                  f"{ceiling:7.0f} rows/s ({load()}); PostgreSQL CPU per row "
                  f"{CPU_COST[-1][1]:.3f} ms")
            print(f"  ratios to COPY: 1 server {local[1] / ceiling:.2f}, 2 servers "
                  f"{local[2] / ceiling:.2f}; 2 servers / 1 server {local[2] / local[1]:.2f}")
        if "standby" in parts:
            print("2. a primary with a synchronous standby (tests/pgpair.py), through nginx")
            with PgPair.start(synchronous=True) as pair:
                engine = make_engine(pair.url, pooled=False)
                migrate(engine)
                engine.dispose()
                rate = measure("2 app servers, synchronous standby", pair.url, 2, args)
                names, data = read_events(pair.primary.conninfo)
                with psycopg.connect(pair.primary.conninfo, autocommit=True) as conn:
                    conn.execute("CREATE SCHEMA bench_copy")
                copy_url = pair.primary.url + "?options=-csearch_path%3Dbench_copy"
                migrate_engine = make_engine(copy_url, pooled=False)
                migrate(migrate_engine)
                migrate_engine.dispose()
                ceiling, rows = copy_rate(
                    pair.primary.conninfo + " options='-csearch_path=bench_copy'", names, data)
                print(f"  {'COPY of the same ' + format(rows, ',') + ' rows, sync standby':44} "
                      f"{ceiling:7.0f} rows/s ({load()}); PostgreSQL CPU per row "
                      f"{CPU_COST[-1][1]:.3f} ms")
                ratio = f", against no standby (1.) {rate / local[2]:.2f}" if 2 in local else ""
                print(f"  ratios: to its COPY {rate / ceiling:.2f}{ratio}")
        if "stored" in parts:
            part_stored(kept_schema(args.schema) if args.schema else url, url, local.get(2), args)
        if "size" in parts:
            print("4. size")
            part_size(args.stays)
    finally:
        for name in schemas:
            drop_schema(name)


if __name__ == "__main__":
    main()
