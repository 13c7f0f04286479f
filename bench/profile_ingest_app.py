"""Where the app server's CPU goes on POST /api/v1/events: an in-process profile.

Run: .venv/bin/python bench/profile_ingest_app.py [--batches 30] [--batch 200] [--devices 4]
         [--profile out.prof] [--top 40]

The app of `create_app` on a fresh PostgreSQL schema (tests/pgschema.py), driven through ASGI in
this process, without a socket or an HTTP parser: each request is a real signed gzip batch of
--batch check-ins (one guest with a 1 KB photo each, as bench/bench_ingest_scale.py sends),
built before the clock starts. The worker-thread hops are made inline so one profiler sees the
whole request. Prints this process's CPU ms per event (the database's own CPU is not in it) and,
with --profile, the top functions by cumulative and by own time.

Asserts nothing; the machine is shared, so compare CPU per event, not wall time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import cProfile
import os
import pstats
import secrets
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

import central.app as central_app  # noqa: E402
from central.db import tables  # noqa: E402
from central.devices import enrolment  # noqa: E402
from central.settings import Settings  # noqa: E402
from sync import signing  # noqa: E402
from sync.body import encode_batch  # noqa: E402
from sync.protocol import Batch, SenderClock  # noqa: E402
from tests.pgschema import create_schema, drop_schema  # noqa: E402
from tests.sync.wire_helpers import EventChain, guest  # noqa: E402

PATH = "/api/v1/events"
PHOTO = base64.b64encode(secrets.token_bytes(1024)).decode("ascii")


async def _inline(func: Any, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _sampler() -> Any:
    """pyinstrument's sampling profiler (CPU time), when it is installed (not a dependency)."""
    from pyinstrument import Profiler

    return Profiler(interval=0.0005, async_mode="disabled", use_timing_thread=False)


def build_requests(app: Any, devices: int, batches: int, size: int
                   ) -> list[tuple[dict[str, str], bytes]]:
    """Signed (headers, gzip body) of `batches` batches spread over `devices` devices."""
    engine = app.state.engine
    chains: list[tuple[str, EventChain]] = []
    for n in range(devices):
        site, device_id, secret = f"PF{n}", f"PF{n}-d", signing.new_secret()
        enrolment.add_site(engine, site, "测试旅馆")
        with engine.begin() as conn:
            conn.execute(insert(tables.devices).values(
                device_id=device_id, site_code=site, secret=secret, installation_id="i",
                enrolled_at="2025-01-01T00:00:00.000000Z", max_sequence=0, events_stored=0,
                disabled=False))
        chains.append((secret, EventChain(device_id, site)))
    built = []
    for index in range(batches):
        secret, chain = chains[index % devices]
        events = tuple(chain.check_in(guests=[guest(name=f"压测{chain.sequence}",
                                                    photo_wlt_b64=PHOTO)]) for _ in range(size))
        body = encode_batch(Batch(chain.device_id, chain.site_code,
                                  SenderClock.system(synchronised=True), events))
        headers = signing.sign_headers(chain.device_id, secret, "POST", PATH, body,
                                       timestamp=int(time.time()))
        built.append(({**headers, "Content-Type": "application/json",
                       "Content-Encoding": "gzip", "Content-Length": str(len(body))}, body))
    return built


async def post(app: Any, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": PATH, "raw_path": PATH.encode(), "query_string": b"",
             "root_path": "", "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8600),
             "headers": [(k.lower().encode("latin-1"), v.encode("latin-1"))
                         for k, v in headers.items()]}
    chunks = [body[i:i + 65536] for i in range(0, len(body), 65536)]  # as uvicorn hands it over
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if chunks:
            chunk = chunks.pop(0)
            return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def run(args: argparse.Namespace, url: str) -> None:
    central_app.run_in_threadpool = _inline  # type: ignore[assignment]
    app = central_app.create_app(Settings(db_url=url, db_pool_size=2))
    async with app.router.lifespan_context(app):
        requests = build_requests(app, args.devices, args.batches + args.warmup, args.batch)
        for headers, body in requests[:args.warmup]:  # compiled caches, pool, first plans
            status, answer = await post(app, headers, body)
            assert status == 200, answer[:300]
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        sampler = _sampler() if args.sample else None
        cpu = time.process_time()
        times = os.times()
        wall = time.monotonic()
        if profiler:
            profiler.enable()
        if sampler:
            sampler.start()
        for headers, body in requests[args.warmup:]:
            status, answer = await post(app, headers, body)
            assert status == 200, answer[:300]
        if profiler:
            profiler.disable()
        if sampler:
            sampler.stop()
        cpu = time.process_time() - cpu
        user, system = os.times().user - times.user, os.times().system - times.system
        wall = time.monotonic() - wall
    events = args.batches * args.batch
    print(f"{events} events in {args.batches} batches: app CPU {1000 * cpu / events:.3f} ms "
          f"per event (user {1000 * user / events:.3f}, system {1000 * system / events:.3f}; "
          f"{wall:.1f} s wall{', profiled' if profiler or sampler else ''})")
    if sampler:
        print(sampler.output_text(unicode=True, show_all=False, short_mode=False))
    if profiler:
        profiler.dump_stats(args.profile)
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--devices", type=int, default=4)
    parser.add_argument("--profile", default="", help="write a cProfile here and print it")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sample", action="store_true",
                        help="print pyinstrument's call tree (pip install pyinstrument)")
    args = parser.parse_args()
    url, schema = create_schema("profile_ingest")
    try:
        asyncio.run(run(args, url))
    finally:
        drop_schema(schema)


if __name__ == "__main__":
    main()
