"""889 terminals upload at once (issue 4): events/s, batch latency, refusals, nothing lost.

Run: .venv/bin/python bench/bench_fleet_sync.py [--terminals 889] [--events 50]
     [--backend postgresql]

Each simulated terminal is a thread with its own enrolled device, its own signed client and a
valid hash chain of `--events` check-ins (1 KB-photo-sized guests); all start together on a
barrier and send their whole backlog as one batch through the production retry policy (full
jitter, Retry-After honoured). The server sheds what it cannot take (503 + Retry-After).
Afterwards the central database must hold every event exactly once.

Baseline in the same run: one terminal alone sending the same batch (its latency is the floor
that the fleet's p50 is compared with).
"""

from __future__ import annotations

import argparse
import base64
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_sync import drop_pg, pg_url  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from central.db import tables  # noqa: E402
from central.db.engine import make_engine  # noqa: E402
from central.devices import enrolment  # noqa: E402
from sync.client import SyncClient  # noqa: E402
from sync.errors import RequestError  # noqa: E402
from sync.protocol import WireEvent  # noqa: E402
from sync.retry import AttemptHistory, RetryPolicy  # noqa: E402
from tests.central.serverproc import CentralServer  # noqa: E402
from tests.sync.wire_helpers import EventChain, guest  # noqa: E402

PHOTO = base64.b64encode(secrets.token_bytes(1024)).decode("ascii")


def make_terminal(engine: object, url: str, index: int, events: int
                  ) -> tuple[SyncClient, list[WireEvent]]:
    site = f"B{index:05d}{secrets.token_hex(2)}"
    enrolment.add_site(engine, site, f"测试旅馆{index}")
    token = enrolment.issue_token(engine, site, timedelta(hours=1))[0]
    client = SyncClient(url, timeout=(10, 120))
    client.enroll(token, str(uuid.uuid4()), "bench-1.0")
    assert client.credentials is not None
    chain = EventChain(client.credentials.device_id, client.credentials.site_code)
    for n in range(events):
        chain.check_in(room=str(100 + n), guests=[guest(photo_wlt_b64=PHOTO)])
    return client, chain.events


def upload(client: SyncClient, events: list[WireEvent], policy: RetryPolicy,
           barrier: threading.Barrier, results: dict[str, object]) -> None:
    history = AttemptHistory()
    barrier.wait()
    started = time.perf_counter()
    try:
        answer = policy.call(lambda: client.send_events(events), history=history)
        delivered = sum(1 for r in answer.results if r.delivered)
        results["delivered"] = delivered
    except RequestError as err:
        results["error"] = type(err).__name__
    results["elapsed"] = time.perf_counter() - started
    results["refused"] = len(history.attempts)


def run(backend: str, terminals: int, events: int, max_in_flight: int) -> None:
    schema = None
    with tempfile.TemporaryDirectory() as work:
        if backend == "sqlite":
            db_url = f"sqlite:///{Path(work) / 'central.db'}"
        else:
            found = pg_url()
            if found is None:
                return
            db_url, schema = found
        server = CentralServer(db_url, Path(work) / "server.log",
                               extra_args=("--max-in-flight", str(max_in_flight))).start()
        engine = make_engine(db_url, pooled=False)
        try:
            started = time.perf_counter()
            with ThreadPoolExecutor(16) as pool:
                fleet = list(pool.map(lambda i: make_terminal(engine, server.url, i, events),
                                      range(terminals)))
            print(f"  {backend}: enrolled {terminals} terminals and built {terminals * events} "
                  f"events in {time.perf_counter() - started:.1f} s")
            # Baseline: one terminal alone, same batch size.
            solo_client, solo_events = make_terminal(engine, server.url, terminals, events)
            solo_started = time.perf_counter()
            solo_client.send_events(solo_events)
            solo = time.perf_counter() - solo_started
            solo_client.close()

            policy = RetryPolicy(initial_s=0.5, cap_s=30)
            barrier = threading.Barrier(terminals)
            results: list[dict[str, object]] = [{} for _ in fleet]
            threads = [threading.Thread(target=upload, args=(c, e, policy, barrier, r))
                       for (c, e), r in zip(fleet, results, strict=True)]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(600)
            wall = time.perf_counter() - started
            for client, _ in fleet:
                client.close()
            latencies = sorted(float(r["elapsed"]) for r in results)  # type: ignore[arg-type]
            delivered = sum(int(r.get("delivered", 0)) for r in results)  # type: ignore[arg-type]
            refused = sum(int(r.get("refused", 0)) for r in results)  # type: ignore[arg-type]
            errors = [r["error"] for r in results if "error" in r]
            events_table = tables.metadata.tables["events"]
            with engine.connect() as conn:
                stored = conn.execute(select(func.count()).select_from(events_table)).scalar()
                distinct = conn.execute(
                    select(func.count(func.distinct(events_table.c.event_id)))
                ).scalar()
            expected = terminals * events + events  # plus the baseline terminal
            p99 = latencies[int(0.99 * (len(latencies) - 1))]
            print(f"  {backend}: {delivered} events delivered in {wall:.1f} s = "
                  f"{delivered / wall:,.0f} events/s; per-terminal batch latency p50 "
                  f"{statistics.median(latencies):.2f} s, p99 {p99:.2f} s (one terminal alone: "
                  f"{solo * 1000:.0f} ms); refused requests (503/429, retried) {refused}; "
                  f"errors {len(errors)}; central holds {stored} events, {distinct} distinct, "
                  f"expected {expected}: lost {expected - distinct}, duplicated "
                  f"{stored - distinct}")
        finally:
            engine.dispose()
            server.stop()
            if schema:
                drop_pg(schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=889)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--backend", default="postgresql", choices=["postgresql", "sqlite"])
    parser.add_argument("--max-in-flight", type=int, default=64)
    args = parser.parse_args()
    print(f"bench_fleet_sync: {args.terminals} terminals x {args.events} events, "
          f"server max in flight {args.max_in_flight}, backend {args.backend}")
    run(args.backend, args.terminals, args.events, args.max_in_flight)


if __name__ == "__main__":
    main()
