"""Uploader benchmarks (issue 4): drain rate, herd after an outage, RSS of `anju sync run`.

Run: .venv/bin/python bench/bench_sync.py [--events 20000] [--single 1000] [--batch 200]
         [--backends sqlite,postgresql] [--terminals 10000] [--rss-events 5000]
         [--rss-batch 200] [--parts 1,2,3]

Figures and goals:
1. drain a backlog of --events check-ins (each with a 1 KB photo) to a local `anju central
   serve` subprocess: events/s batched (--batch per request) against one event per request for the
   first --single events of the same backlog, same run, same server     goal ratio >= 30x
2. herd (a simulation, no sleeping): --terminals terminals whose first failure falls in the
   first 5 s of a one-hour outage retry until it ends; peak requests in any one second after
   the server is back, full jitter vs plain capped exponential   goal peak < 2 % of terminals
   and every terminal shed at once with 503 Retry-After: 5: the bare max against the floor
   spread over [RA, 2 RA]
3. peak RSS (VmHWM) of `anju sync run` while draining --rss-events events    goal < 40 MB
The bench prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_store import guest  # noqa: E402 - 1 KB synthetic photos, varied cards

from sync.retry import RetryPolicy, plain_exponential_wait  # noqa: E402
from terminal.domain.events import Kind  # noqa: E402
from terminal.domain.guests import Guest  # noqa: E402
from terminal.store.database import Store  # noqa: E402
from terminal.store.outbox import lean_writer  # noqa: E402
from terminal.store.writer import Txn  # noqa: E402
from terminal.system.ids import new_id  # noqa: E402
from terminal.system.settings_file import read_document, set_values, write_text_atomic  # noqa: E402
from terminal.uploading.sync_service import SyncService  # noqa: E402
from tests.central.central_helpers import Admin  # noqa: E402
from tests.central.serverproc import CentralServer  # noqa: E402
from tests.pgschema import PostgresUnavailable, create_schema, drop_schema  # noqa: E402
from tests.sync.uploader_helpers import provision  # noqa: E402


def build(store: Store, count: int) -> None:
    """`count` check-ins through the writer's own append path, 1,000 per transaction."""
    guests = [guest(n) for n in range(200)]

    def work(txn: Txn, first: int) -> None:
        instant = txn.now()
        for n in range(first, min(first + 1000, count)):
            g = Guest.from_json({**guests[n % 200].to_json(), "guest_id": new_id()})
            data = {"room": str(100 + n % 60), "expected_check_out": None,
                    "guests": [g.to_json()], "findings": [], "overrides": [], "code_tables": {}}
            txn.append({}, kind=Kind.CHECK_IN, stay_id=new_id(), data=data, operator="C01",
                       instant=instant)

    for first in range(0, count, 1000):
        store.writer.transaction(lambda txn, first=first: work(txn, first))
    store.writer.checkpoint()


def pg_url() -> tuple[str, str] | None:
    try:
        return create_schema("anju_bench")
    except PostgresUnavailable as err:
        print(f"  postgresql: skipped ({err})")
        return None


def drop_pg(schema: str) -> None:
    drop_schema(schema)


def drain_rate(backend: str, work: Path, events: int, single: int, batch: int) -> None:
    schema = None
    if backend == "sqlite":
        db_url = f"sqlite:///{work / 'central.db'}"
    else:
        found = pg_url()
        if found is None:
            return
        db_url, schema = found
    server = CentralServer(db_url, work / "server.log").start()
    admin = Admin(db_url, server.url)
    terminal = provision(admin, work)
    try:
        build(terminal.store, events + single)
        lean_writer(terminal.store)  # as `anju sync run` opens its store
        svc = SyncService(terminal.config, terminal.store,
                          policy=RetryPolicy(initial_s=0.05, cap_s=1))
        try:
            svc.uploader.max_batch_events = 1
            start = time.perf_counter()
            one = svc.drain(max_requests=single)
            single_rate = one.acknowledged / (time.perf_counter() - start)
            svc.uploader.max_batch_events = batch
            start = time.perf_counter()
            batched = svc.drain()
            elapsed = time.perf_counter() - start
        finally:
            svc.close()
        rate = batched.acknowledged / elapsed
        print(f"  {backend:10s} batched: {batched.acknowledged} events in {elapsed:.1f} s = "
              f"{rate:,.0f} events/s ({batched.requests} requests); one per request: "
              f"{one.acknowledged} events = {single_rate:,.0f} events/s; "
              f"ratio {rate / single_rate:.0f}x; left {batched.remaining}")
    finally:
        terminal.store.close()
        admin.close()
        server.stop()
        if schema:
            drop_pg(schema)


def herd(terminals: int, policy: RetryPolicy, outage_s: float = 3600.0, seed: int = 1
         ) -> None:
    """Each terminal's attempt times until the first one after the outage; per-second peaks."""
    rng = random.Random(seed)
    for name in ("full jitter", "plain exponential"):
        after: Counter[int] = Counter()
        during: Counter[int] = Counter()
        for _ in range(terminals):
            t = rng.uniform(0.0, 5.0)  # first failure: terminals were all active
            attempt = 1
            while t < outage_s:
                during[int(t)] += 1
                wait = (policy.wait_for(attempt, None, rng) if name == "full jitter"
                        else plain_exponential_wait(policy, attempt))
                t += wait
                attempt += 1
            after[int(t)] += 1  # the first attempt that finds the server back
        peak = max(after.values())
        last = max(after) - int(outage_s)
        print(f"  {name:18s} peak {peak:5d} requests in one second after the outage "
              f"({100 * peak / terminals:.2f} % of {terminals}); all back within {last} s; "
              f"peak during the outage {max(during.values())}/s")


def shed(terminals: int, retry_after: float = 5.0, seed: int = 2) -> None:
    """Every terminal answered 503 with Retry-After at once (first attempt): when do they
    come back? Bare max(jitter, Retry-After) against the spread floor."""
    from sync.errors import ServerBusyError

    busy = ServerBusyError("busy", status=503, retry_after=retry_after)
    for name, spread in (("bare max", 0.0), ("spread floor", 1.0)):
        policy = RetryPolicy(initial_s=1, cap_s=300, retry_after_spread=spread)
        rng = random.Random(seed)
        back = Counter(int(policy.wait_for(1, busy, rng)) for _ in range(terminals))
        peak = max(back.values())
        print(f"  {name:18s} peak {peak:5d} in one second after a {retry_after:.0f} s "
              f"Retry-After ({100 * peak / terminals:.1f} % of {terminals})")


def rss(work: Path, events: int, batch: int) -> None:
    db_url = f"sqlite:///{work / 'central.db'}"
    server = CentralServer(db_url, work / "server.log").start()
    admin = Admin(db_url, server.url)
    terminal = provision(admin, work)
    try:
        build(terminal.store, events)
        doc = read_document(terminal.config_path)
        set_values(doc, {"sync.batch_max_events": batch})
        write_text_atomic(terminal.config_path, doc.as_string())
        env = {**os.environ, "ANJU_CONFIG": str(terminal.config_path)}
        proc = subprocess.Popen([sys.executable, "-c", "from terminal.cli import main; main()",
                                 "sync", "run"], env=env, cwd=ROOT)
        peak_kb, start = 0, time.perf_counter()
        try:
            while time.perf_counter() - start < 600:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                peak_kb = int(next(line.split()[1] for line in status.splitlines()
                                   if line.startswith("VmHWM")))
                if terminal.outbox_states().get("acknowledged") == events:
                    break
                time.sleep(0.1)
            elapsed = time.perf_counter() - start
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(30)
        print(f"  anju sync run (batches of {batch}): drained {terminal.outbox_states()} in "
              f"{elapsed:.1f} s, peak RSS {peak_kb / 1024:.1f} MB (VmHWM), "
              f"exit {code} after SIGTERM")
    finally:
        terminal.store.close()
        admin.close()
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--single", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=200, help="events per batched request")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--terminals", type=int, default=10_000)
    parser.add_argument("--rss-events", type=int, default=5000)
    parser.add_argument("--rss-batch", type=int, default=200)
    parser.add_argument("--parts", default="1,2,3", help="which figures: 1 drain rate, 2 herd, "
                        "3 memory (e.g. --parts 3 for the RSS alone)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    print(f"bench_sync: events={args.events} single={args.single} batch={args.batch} "
          f"backends={args.backends} terminals={args.terminals} rss_events={args.rss_events}")
    if "1" in parts:
        print("1. drain rate (1 KB photos, local server)")
        for backend in args.backends.split(","):
            with tempfile.TemporaryDirectory() as work:
                drain_rate(backend, Path(work), args.events, args.single, args.batch)
    if "2" in parts:
        print("2. herd after a one-hour outage (initial 1 s, cap 300 s: the default settings)")
        herd(args.terminals, RetryPolicy(initial_s=1, cap_s=300))
        shed(args.terminals)
    if "3" in parts:
        print("3. memory of `anju sync run`")
        with tempfile.TemporaryDirectory() as work:
            rss(Path(work), args.rss_events, args.rss_batch)


if __name__ == "__main__":
    main()
