"""Police-side benchmarks (issue 6): search latency on a loaded database, co-stay, fleet, export.

Run: .venv/bin/python bench/bench_police.py [--stays 100000] [--sites 889] [--queries 200]
         [--backends sqlite,postgresql]

Loads --stays synthetic stays (1-3 guests each; invented names, ID numbers with valid GB 11643
check characters) over --sites sites with one device each, straight into the tables in bulk
(not through the API), then times, in process, the same functions the pages and the API call:

    document search   exact number, page 1                       goal p99 < 20 ms
    name search       partial (2 characters of a real name)      goal p99 < 200 ms
    co-stay           a random guest's room-mates                 (p50/p99)
    fleet             every site and device, ordered              goal < 300 ms
    export            CSV of one busy site's stays                rows/s
PostgreSQL runs in a schema of its own in $ANJU_TEST_PG (dropped afterwards unless --keep; a
kept one is reused with --pg-schema, skipping the load), loaded with COPY and VACUUM ANALYZEd.
Engines are pooled, as in the server. The bench prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, insert, text  # noqa: E402

from central.accounts.principals import Principal  # noqa: E402
from central.db.engine import make_engine  # noqa: E402
from central.db.tables import devices, sites, stay_guests, stays  # noqa: E402
from central.fleet import FleetPolicy, fleet  # noqa: E402
from central.migrate import migrate  # noqa: E402
from central.police import costay, export, exportrows  # noqa: E402
from central.police.search import SearchQuery, search  # noqa: E402
from tests.central.police_helpers import gb11643  # noqa: E402
from tests.pgschema import PG_URL, create_schema, drop_schema  # noqa: E402

SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢"
            "宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程")
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红鹏飞宇浩然子涵梓轩欣怡佳琪思远"
LATIN = ["SMITH", "MULLER", "TANAKA", "KIM", "NGUYEN", "IVANOV", "GARCIA", "SILVA", "KHAN"]
WHO = Principal("bench", "officer", None)
BATCH = 5000
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def person(rng: random.Random) -> tuple[str, str, str, str]:
    """(name, document type, number, nationality)."""
    if rng.random() < 0.1:
        name = f"{rng.choice(LATIN)} {rng.choice(LATIN)[:3]}{rng.randrange(1000)}"
        return name, "14", f"E{rng.randrange(10**8):08d}", rng.choice(["GBR", "DEU", "JPN"])
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    birth = (datetime(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))).strftime("%Y%m%d")
    return name, "11", gb11643(f"44{rng.randrange(10**4):04d}{birth}{rng.randrange(1000):03d}"), \
        "CHN"


def load(engine: Engine, n_stays: int, n_sites: int, rng: random.Random) -> None:
    with without_secondary_indexes(engine):
        load_rows(engine, n_stays, n_sites, rng)
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            # VACUUM too, as autovacuum would: it sets the visibility map (index-only scans)
            # and merges GIN pending lists, which a manual ANALYZE leaves to every scan.
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE"))
    else:
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))


@contextmanager
def without_secondary_indexes(engine: Engine) -> Iterator[None]:
    """PostgreSQL: drop the search indexes during the load and build them once afterwards
    (a bulk build, as a restore would do; maintaining the GIN indexes row by row dominated)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.begin() as conn:
        definitions = conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename IN ('stays', 'stay_guests') AND indexname NOT LIKE '%pkey'")).all()
        for name, _ in definitions:
            conn.execute(text(f'DROP INDEX "{name}"'))
    yield
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
        for _, definition in definitions:
            conn.execute(text(definition))


def load_rows(engine: Engine, n_stays: int, n_sites: int, rng: random.Random) -> None:
    now = fmt(datetime.now(UTC))
    codes = [f"S{i:05d}" for i in range(n_sites)]
    with engine.begin() as conn:
        conn.execute(insert(sites), [{"code": c, "name": f"旅馆{c}", "created_at": now}
                                     for c in codes])
        conn.execute(insert(devices), [{
            "device_id": f"{c}-d1", "site_code": c, "secret": "x" * 64,
            "installation_id": str(uuid.uuid4()), "enrolled_at": now, "disabled": False,
            "max_sequence": 0, "events_stored": 0} for c in codes])
    for start in range(0, n_stays, BATCH):
        stay_rows, guest_rows = [], []
        for _ in range(min(BATCH, n_stays - start)):
            stay_id = str(uuid.uuid4())
            site = codes[min(int(rng.paretovariate(1.2)) - 1, n_sites - 1)] \
                if rng.random() < 0.3 else rng.choice(codes)  # a few busy sites
            checked_in = T0 + timedelta(seconds=rng.randrange(400 * 86400))
            checked_out = checked_in + timedelta(hours=rng.randrange(2, 72))
            stay_rows.append({
                "stay_id": stay_id, "device_id": f"{site}-d1", "site_code": site,
                "room": str(rng.randrange(101, 130)), "status": "checked_out",
                "complete": True, "checked_in_at": fmt(checked_in),
                "checked_out_at": fmt(checked_out), "voided_at": None, "time_corrected": False,
                "event_count": 2, "updated_at": now, "stay_month": fmt(checked_in)[:7]})
            for g in range(rng.choice((1, 1, 1, 2, 2, 3))):
                name, doc_type, number, nationality = person(rng)
                guest_id = str(uuid.uuid4())
                guest_rows.append({
                    "stay_id": stay_id, "guest_id": guest_id, "role": "main" if g == 0
                    else "companion", "name": name, "document_type": doc_type,
                    "document_number": number, "nationality": nationality,
                    "checked_in_at": fmt(checked_in), "checked_out_at": fmt(checked_out),
                    "stay_checked_in_at": fmt(checked_in), "stay_month": fmt(checked_in)[:7]})
        write_rows(engine, stay_rows, guest_rows)


def write_rows(engine: Engine, stay_rows: list[dict], guest_rows: list[dict]) -> None:
    """PostgreSQL: COPY (a bulk load, ~10x faster than INSERTs at millions of rows)."""
    if engine.dialect.name != "postgresql":
        with engine.begin() as conn:
            conn.execute(insert(stays), stay_rows)
            conn.execute(insert(stay_guests), guest_rows)
        return
    raw = engine.raw_connection()
    try:
        with raw.driver_connection.cursor() as cursor:
            for table, rows in ((stays, stay_rows), (stay_guests, guest_rows)):
                names = [c.name for c in table.columns]
                with cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([row.get(n) for n in names])  # full_name: None
        raw.commit()
    finally:
        raw.close()


def sample(engine: Engine) -> dict[str, list]:
    """About 1 % of the guests, uniformly (the query mix), and the busiest site (the export)."""
    pick = "random() < 0.01" if engine.dialect.name == "postgresql" \
        else "abs(random()) % 100 = 0"
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT stay_id, guest_id, name, document_number "
                                 f"FROM stay_guests WHERE {pick} LIMIT 50000")).all()
        busy = conn.execute(text("SELECT site_code FROM stays GROUP BY site_code "
                                 "ORDER BY count(*) DESC LIMIT 1")).scalar_one()
    return {"documents": [r.document_number for r in rows], "names": [r.name for r in rows],
            "guests": [(r.stay_id, r.guest_id) for r in rows], "busy_site": [busy]}


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """p50, p99 in milliseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def partial(name: str, rng: random.Random) -> str:
    """Two characters of one word of the name, as an officer would type them (a fragment
    across the space, "HK" of "SMITH KIM12", is in no name and would measure a miss)."""
    word = rng.choice([w for w in name.split() if len(w) >= 2] or [name])
    start = rng.randrange(max(1, len(word) - 1))
    return word[start:start + 2]


def run(engine: Engine, args: argparse.Namespace, label: str) -> None:
    rng = random.Random(6)
    migrate(engine)
    with engine.connect() as conn:
        loaded = conn.execute(text("SELECT count(*) FROM stays")).scalar_one()
    if loaded:
        print(f"[{label}] reusing {loaded} stays already loaded")
    else:
        start = time.perf_counter()
        load(engine, args.stays, args.sites, rng)
        print(f"[{label}] loaded {args.stays} stays over {args.sites} sites in "
              f"{time.perf_counter() - start:.1f} s")
    samples = sample(engine)

    def one(query: SearchQuery) -> int:
        with engine.connect() as conn, conn.begin():
            return len(search(conn, query, WHO, 30.0).stays)

    docs, names, guests = samples["documents"], samples["names"], samples["guests"]
    p50, p99 = timed(lambda: one(SearchQuery(document=rng.choice(docs))), args.queries)
    print(f"[{label}] document search   p50 {p50:7.2f} ms  p99 {p99:7.2f} ms   (goal p99 < 20)")
    p50, p99 = timed(lambda: one(SearchQuery(name=partial(rng.choice(names), rng))),
                     args.queries)
    print(f"[{label}] name search       p50 {p50:7.2f} ms  p99 {p99:7.2f} ms   (goal p99 < 200)")
    for script, pool in (("Han", [n for n in names if not n.isascii()]),
                         ("Latin", [n for n in names if n.isascii()])):
        if pool:  # two-letter Latin fragments match many more guests than two Han characters
            p50, p99 = timed(lambda pool=pool: one(SearchQuery(name=partial(rng.choice(pool),
                                                                            rng))),
                             args.queries // 2)
            print(f"[{label}]   {script:<5} 2 chars  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")

    def mates() -> None:
        stay_id, guest_id = rng.choice(guests)
        with engine.connect() as conn, conn.begin():
            costay.co_stays(conn, stay_id, guest_id, WHO, 30.0)

    p50, p99 = timed(mates, args.queries)
    print(f"[{label}] co-stay           p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")
    p50, p99 = timed(lambda: fleet(engine, FleetPolicy()), 10)
    print(f"[{label}] fleet ({args.sites} sites) p50 {p50:7.2f} ms  p99 {p99:7.2f} ms"
          "   (goal < 300)")
    start = time.perf_counter()
    body = io.BytesIO()
    with engine.connect() as conn, conn.begin():  # the projection only (no events loaded here)
        found = export.collect(conn, SearchQuery(site=samples["busy_site"][0]), WHO, 60.0)
        rows = export.write_csv(exportrows.rows(conn, found), body)
    elapsed = time.perf_counter() - start
    print(f"[{label}] export CSV {rows} rows ({len(found)} stays, "
          f"{len(body.getvalue()) // 1024} KiB) in {elapsed * 1000:.0f} ms = "
          f"{rows / elapsed:,.0f} rows/s")


@contextmanager
def postgres_engine(reuse: str | None, keep: bool) -> Iterator[Engine]:
    if reuse:
        url, schema = f"{PG_URL}?options=-csearch_path%3D{reuse}", reuse
    else:
        url, schema = create_schema("anju_bench")
    engine = make_engine(url, pool_size=4)
    try:
        yield engine
    finally:
        engine.dispose()
        if keep or reuse:
            print(f"[postgresql] schema {schema} kept: --pg-schema {schema} reuses it")
        else:
            drop_schema(schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stays", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=889)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--keep", action="store_true",
                        help="keep the PostgreSQL schema (print its name) instead of dropping it")
    parser.add_argument("--pg-schema", help="reuse a schema kept by --keep (no load)")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                engine = make_engine(f"sqlite:///{tmp}/bench.db", pool_size=4)
                try:
                    run(engine, args, "sqlite")
                finally:
                    engine.dispose()
        else:
            with postgres_engine(args.pg_schema, args.keep) as engine:
                run(engine, args, "postgresql")


if __name__ == "__main__":
    main()
