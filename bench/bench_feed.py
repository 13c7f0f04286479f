"""Change-feed benchmarks (issue 18) on PostgreSQL, against a real `anju central serve`.

Run: .venv/bin/python bench/bench_feed.py [--stays 250000] [--tail-seconds 30]
         [--devices 20] [--poll 0.5] [--keep] [--pg-schema NAME]

1. Load --stays synthetic stays with bench/bench_police.py's loader (COPY, 1-3 guests each),
   then start their feed as an upgraded database does (central/feed/log.py `backfill`: one
   snapshot record per stay), timed.
2. Cold pull: a consumer takes everything from the beginning in pages of 10,000 over HTTP
   (streamed NDJSON): records/s and MB/s, and the server's RSS sampled every 0.2 s meanwhile
   (flat in the number of records: the ratio of the last to the first quarter's peak).
3. Tail: --devices enrolled terminals upload check-ins (1-5 per batch) as fast as they are
   answered (with a short pause) for --tail-seconds, while a consumer tails the feed polling
   every --poll seconds. For each event: the time from the upload's answer (ingest accepted)
   to its record read by the consumer: p50/p99 (goal p99 < 2 s); ingest events/s with the feed.

Prints figures and ratios against the goals; asserts nothing. Figures: docs/feed.md.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402
from bench_police import load, postgres_engine  # noqa: E402

from central.devices import enrolment  # noqa: E402
from central.feed import log as feed_log  # noqa: E402
from central.feed import tokens  # noqa: E402
from central.migrate import migrate  # noqa: E402
from sync.client import SyncClient  # noqa: E402
from tests.central.police_helpers import OPERATOR  # noqa: E402
from tests.central.serverproc import CentralServer  # noqa: E402
from tests.sync.wire_helpers import EventChain, guest  # noqa: E402

LATENCY_GOAL_S = 2.0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.samples, self.stop = pid, [], threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.samples.append(rss_kib(self.pid))


def feed_page(session: requests.Session, url: str, token: str, after: str, limit: int
              ) -> tuple[list[bytes], str, bool, int]:
    with session.get(url + "/api/v1/feed", params={"after": after, "limit": limit},
                     headers={"Authorization": f"Bearer {token}"}, stream=True,
                     timeout=120) as reply:
        reply.raise_for_status()
        size, lines, rest = 0, [], b""
        for chunk in reply.iter_content(256 * 1024):
            size += len(chunk)
            parts = (rest + chunk).split(b"\n")
            rest = parts.pop()
            lines += parts
        return (lines, reply.headers["X-Anju-Feed-Last"],
                reply.headers["X-Anju-Feed-More"] == "1", size)


def cold_pull(server: CentralServer, token: str) -> str:
    assert server.process is not None
    sampler = RssSampler(server.process.pid)
    sampler.start()
    count, size, after, started = 0, 0, "0", time.perf_counter()
    with requests.Session() as session:
        while True:
            lines, after, more, got = feed_page(session, server.url, token, after, 10_000)
            count, size = count + len(lines), size + got
            if not more:
                break
    elapsed = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    quarter = max(1, len(sampler.samples) // 4)
    first, last = max(sampler.samples[:quarter]), max(sampler.samples[-quarter:])
    print(f"cold pull: {count} records, {size / 1e6:.0f} MB in {elapsed:.1f} s = "
          f"{count / elapsed:,.0f} records/s, {size / 1e6 / elapsed:.1f} MB/s")
    print(f"server RSS while pulling: first quarter peak {first / 1024:.0f} MiB, last quarter "
          f"peak {last / 1024:.0f} MiB, max {max(sampler.samples) / 1024:.0f} MiB "
          f"(ratio last/first {last / first:.2f}; flat = 1.0)")
    return after


def tail(server: CentralServer, engine, token: str, after: str, args) -> None:
    site = "B" + uuid.uuid4().hex[:8]
    enrolment.add_site(engine, site, "尾随测试旅馆")
    devices = []
    for _ in range(args.devices):
        client = SyncClient(server.url)
        value = enrolment.issue_token(engine, site, timedelta(hours=1))[0]
        client.enroll(value, str(uuid.uuid4()), "bench")
        assert client.credentials is not None
        devices.append((client, EventChain(client.credentials.device_id, site)))
    accepted: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()

    def upload(mine: list) -> None:
        rng = random.Random()
        while not stop.is_set():
            for client, chain in mine:
                batch = [chain.check_in(room=str(rng.randrange(100, 400)),
                                        guests=[guest(name="李小龙")])
                         for _ in range(rng.randint(1, 5))]
                answer = client.send_events(batch)
                now = time.monotonic()
                for result in answer.results:
                    if result.status == "accepted":
                        accepted[result.event_id] = now
                time.sleep(0.05)

    def consume() -> None:
        cursor = after
        with requests.Session() as session:
            while not (stop.is_set() and len(seen) >= len(accepted)):
                lines, cursor, more, _ = feed_page(session, server.url, token, cursor, 1000)
                now = time.monotonic()
                for line in lines:
                    record = json.loads(line)
                    if record["event"]:
                        seen[record["event"]["event_id"]] = now
                if not more:
                    time.sleep(args.poll)

    assert server.process is not None
    sampler = RssSampler(server.process.pid)
    sampler.start()
    uploaders = [threading.Thread(target=upload, args=(devices[i::4],)) for i in range(4)]
    reader = threading.Thread(target=consume)
    reader.start()
    started = time.monotonic()
    for thread in uploaders:
        thread.start()
    time.sleep(args.tail_seconds)
    stop.set()
    for thread in uploaders:
        thread.join()
    elapsed = time.monotonic() - started
    reader.join(60)
    sampler.stop.set()
    for client, _ in devices:
        client.close()
    delays = sorted(seen[e] - accepted[e] for e in accepted if e in seen)
    missing = len(accepted) - len(delays)
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, int(len(delays) * 0.99))]
    print(f"tail: {len(accepted)} events accepted in {elapsed:.1f} s "
          f"({len(accepted) / elapsed:,.0f} events/s ingested by {args.devices} terminals "
          f"with the feed's lock), {missing} not seen by the consumer")
    print(f"ingest accepted -> in a tailing consumer's hands (poll {args.poll} s): "
          f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms "
          f"(p99 / goal {LATENCY_GOAL_S:.0f} s = {p99 / LATENCY_GOAL_S:.2f})")
    print(f"server RSS while tailing: max {max(sampler.samples) / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stays", type=int, default=250_000)
    parser.add_argument("--sites", type=int, default=889)
    parser.add_argument("--tail-seconds", type=float, default=30.0)
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--poll", type=float, default=0.5)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--pg-schema", help="reuse a schema kept by --keep (no load)")
    args = parser.parse_args()
    with postgres_engine(args.pg_schema, args.keep) as engine:
        if not args.pg_schema:
            migrate(engine)
            started = time.perf_counter()
            load(engine, args.stays, args.sites, random.Random(18))
            loaded = time.perf_counter()
            with engine.begin() as conn:
                count = feed_log.backfill(conn, datetime.now(UTC).strftime(
                    "%Y-%m-%dT%H:%M:%S.%fZ"))
            print(f"loaded {args.stays} stays in {loaded - started:.0f} s; feed started with "
                  f"{count} snapshot records in {time.perf_counter() - loaded:.0f} s "
                  f"({count / (time.perf_counter() - loaded):,.0f} records/s)")
        token = tokens.issue(engine, "bench", by=OPERATOR, rate_per_minute=6000)[0]
        url = engine.url.render_as_string(hide_password=False)
        with tempfile.TemporaryDirectory() as tmp, \
                CentralServer(url, Path(tmp) / "server.log") as server:
            after = cold_pull(server, token)
            tail(server, engine, token, after, args)


if __name__ == "__main__":
    main()
