"""The central server beyond one machine (issue 19): ingest through nginx, the cost of the
synchronous standby, and failover.

Run: .venv/bin/python bench/bench_failover.py [--seconds 8] [--terminals 6] [--batch 50]
         [--commits 300] [--parts commit,ingest,failover]

Each configuration is started here (tests/pgpair.py, tests/ha/): a PostgreSQL primary with a
streaming standby on ports of its own, `anju central serve` processes on the libpq multi-host
URL, nginx on deploy/ha/nginx-anju-central.conf with a self-signed certificate.

0. commit: --commits single-row commits on the pair, synchronous_commit=on against local
   (interleaved, same run): the latency a receipt pays for the standby
1. ingest: --terminals threads (the terminal's SyncClient, signed gzip batches of --batch
   check-ins) for --seconds each: events/s
   a. direct to one server, synchronous standby      (baseline)
   b. through nginx (TLS) to one server, synchronous
   c. through nginx to two servers, synchronous
   d. through nginx to two servers, asynchronous standby (synchronous_standby_names unset)
   ratios: b/a (the cost of nginx + TLS), c/b (a second server), c/d (the cost of "durable on
   two machines": every receipt waits for the standby's flush)
2. failover, the drill of tests/ha/test_failover.py, primary killed and primary hung: seconds
   from promotion to every terminal acknowledged again (goal < 10 s), events lost (0) and
   stored twice (0).
The bench prints figures; it asserts nothing. On a shared 2-core machine the client's own
signing and gzip compete with the servers and PostgreSQL for the CPU: compare ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sync.retry import RetryPolicy  # noqa: E402
from tests.central.central_helpers import Admin  # noqa: E402
from tests.ha.drill import run_drill  # noqa: E402
from tests.ha.hasite import HaSite, send_until_answered  # noqa: E402
from tests.pgpair import PgPair  # noqa: E402
from tests.sync.wire_helpers import guest  # noqa: E402

LATENCIES: list[float] = []  # median batch round trip (ms) of each ingest_rate run


@contextmanager
def site(pair: PgPair, servers: int) -> Iterator[HaSite]:
    base = Path(tempfile.mkdtemp(prefix="anju-bench-ha-"))
    try:
        with HaSite(pair.url, base, servers=servers) as running:
            assert running.nginx is not None
            os.environ["REQUESTS_CA_BUNDLE"] = str(running.nginx.ca)
            yield running
    finally:
        shutil.rmtree(base, ignore_errors=True)


def ingest_rate(db_url: str, url: str, seconds: float, terminals: int, batch: int) -> float:
    """Events acknowledged per second by `terminals` concurrent uploaders (and the median
    batch round trip, appended to LATENCIES)."""
    with Admin(db_url, url) as admin:
        devices = [admin.device() for _ in range(terminals)]
        counts = [0] * terminals
        took: list[float] = []
        stop = time.monotonic() + seconds

        def upload(i: int) -> None:
            client, chain = devices[i]
            while time.monotonic() < stop:
                events = [
                    chain.check_in(guests=[guest(name=f"压测{chain.sequence}")])
                    for _ in range(batch)
                ]
                counts[i] += send_until_answered(client, events, took)

        started = time.monotonic()
        threads = [threading.Thread(target=upload, args=(i,)) for i in range(terminals)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        LATENCIES.append(statistics.median(took) * 1000 if took else float("nan"))
        return sum(counts) / (time.monotonic() - started)


def part_ingest(args: argparse.Namespace) -> None:
    rates: dict[str, float] = {}
    single: dict[bool, float] = {}
    for synchronous in (True, False):
        with PgPair.start(synchronous=synchronous) as pair:
            for servers in (1, 2) if synchronous else (2,):
                with site(pair, servers) as running:
                    if synchronous and servers == 1:
                        rates["a direct, 1 server, sync"] = ingest_rate(
                            pair.url,
                            running.servers[0].url,
                            args.seconds,
                            args.terminals,
                            args.batch,
                        )
                    key = (
                        f"{'b' if servers == 1 else 'c' if synchronous else 'd'} nginx, "
                        f"{servers} server(s), {'sync' if synchronous else 'async'}"
                    )
                    rates[key] = ingest_rate(
                        pair.url, running.url, args.seconds, args.terminals, args.batch
                    )
                    print(
                        f"  {key:38} {rates[key]:8.0f} events/s, median batch "
                        f"{LATENCIES[-1]:6.1f} ms",
                        flush=True,
                    )
                    if servers == 2:  # one terminal alone: the commit's latency shows
                        one = ingest_rate(pair.url, running.url, args.seconds, 1, args.batch)
                        single[synchronous] = LATENCIES[-1]
                        print(
                            f"  {'  1 terminal alone':38} {one:8.0f} events/s, median "
                            f"batch {LATENCIES[-1]:6.1f} ms",
                            flush=True,
                        )
    a, b, c, d = (rates[k] for k in sorted(rates))
    print(f"  {'a direct, 1 server, sync':38} {a:8.0f} events/s")
    print(
        f"ratios: nginx+TLS b/a {b / a:.2f}, second server c/b {c / b:.2f}, "
        f"synchronous standby c/d {c / d:.2f} (cost {100 * (1 - c / d):.0f} %); one "
        f"terminal's batch round trip sync/async {single[True] / single[False]:.2f} "
        f"(+{single[True] - single[False]:.1f} ms)"
    )


def part_commit(args: argparse.Namespace) -> None:
    """The commit itself, same pair, same run: synchronous_commit=on (waits for the standby's
    flush: what a receipt waits for) against local (the primary's own flush only)."""
    import psycopg

    with PgPair.start() as pair, psycopg.connect(pair.primary.conninfo) as conn:
        conn.execute("CREATE TABLE bench_commit (id serial PRIMARY KEY, payload text)")
        conn.commit()
        took: dict[str, float] = {}
        for mode in ("local", "on", "local", "on"):  # interleaved: the machine's load drifts
            conn.execute(f"SET synchronous_commit = {mode}")
            started = time.monotonic()
            for _ in range(args.commits):
                conn.execute("INSERT INTO bench_commit (payload) VALUES (repeat('x', 1000))")
                conn.commit()
            took[mode] = took.get(mode, 0.0) + time.monotonic() - started
    local, on = (1000 * took[m] / (2 * args.commits) for m in ("local", "on"))
    print(f"  commit, primary flush only (local)      {local:6.2f} ms")
    print(
        f"  commit, standby flushed too (on)        {on:6.2f} ms   ratio {on / local:.2f}, "
        f"+{on - local:.2f} ms per commit (one per batch)"
    )


def part_failover(_args: argparse.Namespace) -> None:
    # Terminals resending after 0.2 s measure the servers' own recovery; with the terminal's
    # retry layer (backoff with full jitter, Retry-After as a floor) what a guesthouse sees.
    for retry, policy in (("0.2 s", None), ("terminal", RetryPolicy())):
        for loss in ("killed", "hung"):
            _drill(loss, retry, policy)


def _drill(loss: str, retry: str, policy: RetryPolicy | None) -> None:
    with (
        PgPair.start() as pair,
        site(pair, 2) as running,
        Admin(pair.url, running.url) as admin,
    ):
        result = run_drill(pair, admin, loss, policy=policy)
    f = result.findings
    print(
        f"  primary {loss:6}, retry {retry:8}: resumed {result.resumed_after_promotion_s} s after "
        f"promotion (goal < 10), {result.without_ingest_s} s without ingest from the "
        f"loss; promotion {result.promotion_s} s; {result.events} events, lost "
        f"{f.missing}, twice {f.duplicates}, chain faults {f.faults}, audit "
        f"{'ok' if result.audit_ok else 'BROKEN'}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--terminals", type=int, default=6)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--parts", default="commit,ingest,failover")
    args = parser.parse_args()
    parts = args.parts.split(",")
    if "commit" in parts:
        print(f"0. commit latency: {args.commits} x 2 single-row commits per mode, loopback")
        part_commit(args)
    if "ingest" in parts:
        print(
            f"1. ingest: {args.terminals} terminals, batches of {args.batch}, "
            f"{args.seconds:g} s each"
        )
        part_ingest(args)
    if "failover" in parts:
        print("2. failover (3 terminals through nginx, 2 servers, promote-standby.sh)")
        part_failover(args)


if __name__ == "__main__":
    main()
