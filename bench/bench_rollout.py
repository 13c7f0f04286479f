"""A rollout to 889 terminals (issue 13): time to 95 % updated, peak requests/s, bytes served.

Run: .venv/bin/python bench/bench_rollout.py [--terminals 889] [--spread 1800] [--speed 20]
     [--terminal-e2e]

One real central server (`anju central serve`, SQLite) and a real signed repository
(`anju central repo publish`, served over HTTP with a request and byte count, the package a
stand-in of the real package's size). Each simulated terminal is enrolled and sends real signed
heartbeats; its updater is modelled as terminal/update/ behaves: it hears the order in a
heartbeat answer, runs at once (anju-update.path) and waits for its slot if it comes within
720 s, else at its next timer run (every 600 s + up to 120 s), finds the clerk busy 5 % of the
time (waits for the next timer run), fetches InRelease, Packages.gz and the package from the
repository (real GETs), installs for 60 s, and the new version's uploader heartbeats at start
with the outcome.

Time runs `--speed` times faster than on a real fleet: every interval (heartbeat 300 s, spread,
timer, install) is divided by it and every measured time multiplied back, so rates are the
measured ones divided by the speed. The scheduler's lateness is printed: a late scheduler would
have flattened the peaks.

Baseline in the same run: one heartbeat interval of the fleet before the rollout (its peak
rate is the floor the rollout's peak is compared with). `--terminal-e2e` also runs
deploy/test/update_test.py (root, minutes) for one real terminal's page downtime and rollback.
"""

from __future__ import annotations

import argparse
import functools
import heapq
import http.server
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from central import rollout  # noqa: E402
from central.accounts.admin import operator  # noqa: E402
from central.db.engine import make_engine  # noqa: E402
from central.devices import enrolment as enrol  # noqa: E402
from central.devices.package_repo import publish  # noqa: E402
from sync.body import encode_body  # noqa: E402
from sync.client import SyncClient  # noqa: E402
from sync.errors import RequestError  # noqa: E402
from sync.messages import Heartbeat, HeartbeatAnswer  # noqa: E402
from sync.protocol import SenderClock  # noqa: E402
from sync.update_messages import UpdateOrder, UpdateReport  # noqa: E402
from tests.central.serverproc import CentralServer  # noqa: E402

HEARTBEAT_S = 300.0  # the default (anju central serve --heartbeat-interval)
TIMER_S, TIMER_JITTER_S = 600.0, 120.0  # anju-update.timer
INSTALL_S = 60.0  # apt install + postinst on a Pi, before the new uploader's first heartbeat
BUSY = 0.05  # a clerk mid-registration when the updater looks
OLD, NEW = "0.1.0", "0.2.0"
PACKAGE_BYTES = 6_400_000  # docs/install.md: the arm64 package


class Repository:
    """A signed flat repository over HTTP that counts requests (with times) and bytes."""

    def __init__(self, work: Path, package_bytes: int) -> None:
        self.times: list[float] = []
        self.bytes = 0
        self.lock = threading.Lock()
        self.home = Path(tempfile.mkdtemp(prefix="g", dir="/tmp"))
        self.home.chmod(0o700)
        env = {**os.environ, "GNUPGHOME": str(self.home)}
        subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
                        "bench <bench@anju.invalid>", "ed25519", "sign", "never"], env=env,
                       check=True, capture_output=True)
        listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys"], env=env,
                                 check=True, capture_output=True, text=True).stdout
        key = next(line.split(":")[9] for line in listing.splitlines()
                   if line.startswith("fpr:"))
        debs = [self._package(work, OLD, 1024), self._package(work, NEW, package_bytes)]
        self.folder = work / "repo"
        publish(self.folder, debs, key, gnupg_home=self.home)
        self.deb_path = f"pool/{debs[1].name}"
        counter = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def copyfile(self, source: Any, outputfile: Any) -> None:
                sent = 0
                while chunk := source.read(1 << 20):
                    outputfile.write(chunk)
                    sent += len(chunk)
                with counter.lock:
                    counter.times.append(time.monotonic())
                    counter.bytes += sent

        self.server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(self.folder)))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def _package(work: Path, version: str, size: int) -> Path:
        stage = work / f"stage-{version}"
        (stage / "DEBIAN").mkdir(parents=True)
        (stage / "opt/anju").mkdir(parents=True)
        (stage / "opt/anju/payload").write_bytes(secrets.token_bytes(size))  # incompressible
        (stage / "DEBIAN/control").write_text(
            f"Package: anju-terminal\nVersion: {version}\nArchitecture: all\n"
            "Maintainer: Anju developers <developers@anju.example.com>\n"
            "Description: bench stand-in\n stand-in of the package's size\n")
        deb = work / f"anju-terminal_{version}_all.deb"
        subprocess.run(["dpkg-deb", "-Znone", "--root-owner-group", "--build", str(stage),
                        str(deb)], check=True, capture_output=True)
        shutil.rmtree(stage)
        return deb

    def fetch(self, session: Any) -> None:
        """What apt-get update + install --download-only ask for."""
        for path in ("InRelease", "Packages.gz", self.deb_path):
            with session.get(self.url + path, timeout=120, stream=True) as answer:
                answer.raise_for_status()
                for _chunk in answer.iter_content(1 << 20):
                    pass

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        subprocess.run(["gpgconf", "--kill", "all"], env={**os.environ,
                                                          "GNUPGHOME": str(self.home)},
                       check=False, capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)


@dataclass
class Terminal:
    client: SyncClient
    rng: random.Random
    version: str = OLD
    order: UpdateOrder | None = None
    due: float | None = None  # virtual seconds
    timer_next: float = 0.0
    installing: bool = False
    waiting: bool = False  # an updater run waits for the slot
    report: UpdateReport | None = None
    updated_at: float | None = None  # virtual: the server accepted a heartbeat of NEW
    fetches: int = 0


@dataclass(order=True)
class Event:
    at: float  # virtual seconds
    seq: int
    action: Callable[[], None] = field(compare=False)


class Fleet:
    def __init__(self, url: str, terminals: list[Terminal], speed: float,
                 repo: Repository) -> None:
        self.url = url
        self.terminals = terminals
        self.speed = speed
        self.repo = repo
        self.queue: list[Event] = []
        self.seq = 0
        self.lock = threading.Lock()
        self.start = time.monotonic()
        self.beat_times: list[float] = []
        self.errors = 0
        self.lateness: list[float] = []
        self.pool = ThreadPoolExecutor(48)
        self.session_local = threading.local()

    def now(self) -> float:
        return (time.monotonic() - self.start) * self.speed

    def at(self, when: float, action: Callable[[], None]) -> None:
        with self.lock:
            self.seq += 1
            heapq.heappush(self.queue, Event(when, self.seq, action))

    def run_until(self, until: float, done: Callable[[], bool] = lambda: False) -> None:
        while True:
            with self.lock:
                event = heapq.heappop(self.queue) if self.queue else None
            if event is None or event.at > until or done():
                if event is not None:
                    self.at(event.at, event.action)
                return
            wait = event.at / self.speed - (time.monotonic() - self.start)
            if wait > 0:
                time.sleep(wait)
            self.lateness.append(max(0.0, -wait) * self.speed)
            self.pool.submit(self._safe, event.action)

    def _safe(self, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as err:  # a bench keeps going; the count is printed
            self.errors += 1
            if self.errors <= 3:
                print(f"  error: {type(err).__name__}: {err}", flush=True)

    # -- one terminal's behaviour ---------------------------------------------------------

    def heartbeat(self, t: Terminal, *, again: bool = True) -> None:
        try:
            answer: HeartbeatAnswer = t.client.heartbeat(
                software_version=f"anju-terminal/{t.version}", backlog=0,
                oldest_queued_age_s=None, reader_status="connected", disk_free_bytes=10**9,
                update=t.report)
        except RequestError:  # the uploader's retry policy tries again (here: after 10 s)
            self.errors += 1
            self.at(self.now() + 10, lambda: self.heartbeat(t, again=again))
            return
        now = self.now()
        with self.lock:
            self.beat_times.append(time.monotonic())
        if t.version == NEW and t.updated_at is None:
            t.updated_at = now
        if again:
            self.at(now + HEARTBEAT_S, lambda: self.heartbeat(t))
        order = answer.update
        if order and (t.order is None or t.order.rollout_id != order.rollout_id):
            t.order, t.due = order, now + order.after_s * self.speed
            self.at(now, lambda: self.updater(t))  # anju-update.path: at once

    def timer(self, t: Terminal) -> None:
        self.updater(t)
        t.timer_next = self.now() + TIMER_S + t.rng.uniform(0, TIMER_JITTER_S)
        self.at(t.timer_next, lambda: self.timer(t))

    def updater(self, t: Terminal) -> None:
        if t.installing or t.order is None or t.version == t.order.version or t.due is None:
            return
        if self.now() < t.due:
            # a slot due before the timer's next run is waited for (wait_for_slot_s)
            if t.due - self.now() <= TIMER_S + TIMER_JITTER_S and not t.waiting:
                t.waiting = True
                self.at(t.due, lambda: self.updater(t))
            return
        t.waiting = False
        if t.rng.random() < BUSY:
            t.report = UpdateReport("pending", t.order.version, t.version,
                                    "a registration is open at the front desk")
            return
        t.installing = True
        session = getattr(self.session_local, "session", None)
        if session is None:
            import requests

            session = self.session_local.session = requests.Session()
        self.repo.fetch(session)
        t.fetches += 1
        self.at(self.now() + INSTALL_S, lambda: self.installed(t))

    def installed(self, t: Terminal) -> None:
        assert t.order is not None
        t.report = UpdateReport("updated", t.order.version, t.version,
                                "READY and a heartbeat accepted")
        t.version, t.installing = t.order.version, False
        self.heartbeat(t, again=False)  # the new uploader at start; its cycle follows


def enrolled(engine: Any, url: str, index: int, rng: random.Random) -> Terminal:
    site = f"R{index:05d}{secrets.token_hex(2)}"
    enrol.add_site(engine, site, f"升级测试旅馆{index}")
    token = enrol.issue_token(engine, site, timedelta(hours=1))[0]
    client = SyncClient(url, timeout=(10, 60))
    client.enroll(token, str(uuid.uuid4()), f"anju-terminal/{OLD}")
    return Terminal(client, random.Random(rng.random()))


def peak_rate(times: list[float], start: float, window_s: float, speed: float) -> float:
    """The most requests in any `window_s` virtual seconds, per virtual second."""
    stamps = sorted((t - start) * speed for t in times if t >= start)
    best, lo = 0, 0
    for hi, stamp in enumerate(stamps):
        while stamp - stamps[lo] > window_s:
            lo += 1
        best = max(best, hi - lo + 1)
    return best / window_s


def wire_bytes(device_id: str) -> tuple[int, int]:
    """A heartbeat's request body (gzip) and its answer with an order, in bytes."""
    beat = Heartbeat(device_id, "R00001abcd", SenderClock("2026-03-01T02:00:00.000000Z", True,
                                                          10**12, str(uuid.uuid4())),
                     f"anju-terminal/{OLD}", 0, None, "connected", 10**9,
                     update=UpdateReport("updated", NEW, OLD, "READY and a heartbeat accepted",
                                         "2026-03-01T02:00:00.000000Z"))
    answer = HeartbeatAnswer("2026-03-01T02:00:00.000000Z", 12, 300,
                             UpdateOrder(NEW, 1, 1234))
    return len(encode_body(beat.to_json())), len(encode_body(answer.to_json()))


def run(args: argparse.Namespace) -> None:
    rng = random.Random(13)
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        repo = Repository(work, args.package_bytes)
        server = CentralServer(f"sqlite:///{work / 'central.db'}", work / "server.log",
                               extra_args=("--heartbeat-interval", "5")).start()
        engine = make_engine(server.db_url, pooled=False)
        try:
            started = time.monotonic()
            with ThreadPoolExecutor(16) as pool:
                terminals = list(pool.map(lambda i: enrolled(engine, server.url, i, rng),
                                          range(args.terminals)))
            print(f"  enrolled {len(terminals)} terminals in {time.monotonic() - started:.0f} s",
                  flush=True)
            fleet = Fleet(server.url, terminals, args.speed, repo)
            for t in terminals:
                fleet.at(t.rng.uniform(0, HEARTBEAT_S), functools.partial(fleet.heartbeat, t))
                fleet.at(t.rng.uniform(0, TIMER_S + TIMER_JITTER_S),
                         functools.partial(fleet.timer, t))
            fleet.run_until(HEARTBEAT_S)  # warm-up: every terminal heartbeats once
            base_start = time.monotonic()
            fleet.run_until(2 * HEARTBEAT_S)  # the baseline interval
            base_peak = peak_rate(fleet.beat_times, base_start, 10, args.speed)
            base_count = sum(1 for t in fleet.beat_times if t >= base_start)
            # the rollout: all terminals, spread over --spread (virtual) seconds
            made = rollout.set_rollout(engine, NEW, "all",
                                       spread_s=max(0, round(args.spread / args.speed)),
                                       by=operator())
            roll_start, roll_virtual = time.monotonic(), fleet.now()
            beats_before = len(fleet.beat_times)
            repo_before = (len(repo.times), repo.bytes)

            def all_updated() -> bool:
                return all(t.updated_at is not None for t in terminals)

            horizon = roll_virtual + args.spread + TIMER_S + TIMER_JITTER_S + 2 * HEARTBEAT_S \
                + INSTALL_S
            fleet.run_until(horizon, all_updated)
            fleet.pool.shutdown(wait=True)
            wall = time.monotonic() - roll_start
            done = sorted(t.updated_at - roll_virtual for t in terminals
                          if t.updated_at is not None)
            n95 = int(0.95 * len(terminals) + 0.999)
            t95 = done[n95 - 1] if len(done) >= n95 else float("nan")
            all_times = fleet.beat_times[beats_before:] + repo.times[repo_before[0]:]
            peak = peak_rate(all_times, roll_start, 10, args.speed)
            peak_1s = peak_rate(all_times, roll_start, 1, args.speed)
            beats = len(fleet.beat_times) - beats_before
            fetches = len(repo.times) - repo_before[0]
            up, down = wire_bytes(terminals[0].client.credentials.device_id)  # type: ignore[union-attr]
            package_total = repo.bytes - repo_before[1]
            progress = rollout.progress(engine)
            mine = next(p for p in progress if p.rollout.id == made.id)
            late = sorted(fleet.lateness)
            n = args.terminals
            print(f"  rollout of {NEW} to {n} terminals, spread {args.spread:.0f} s, heartbeat "
                  f"every {HEARTBEAT_S:.0f} s, time x{args.speed:g} ({wall:.0f} s of wall time)")
            print(f"  time to 95 % updated: {t95:.0f} s ({t95 / 60:.1f} min); all: "
                  f"{done[-1]:.0f} s; updated {len(done)}/{n}; the server counts "
                  f"{mine.updated}/{mine.targeted} (fleet page)")
            print(f"  central side, peak requests/s (10 s window): {peak:.2f} = "
                  f"{100 * peak / n:.2f} % of the fleet per second (goal < 2 %); 1 s window "
                  f"{peak_1s:.1f}; baseline (heartbeats only, before the rollout) "
                  f"{base_peak:.2f}/s; ratio {peak / base_peak if base_peak else 0:.2f}")
            print(f"  requests during the rollout: {beats} heartbeats, {fetches} repository GETs "
                  f"({fetches / max(1, len(done)):.1f} per updated terminal); baseline "
                  f"interval {base_count} heartbeats")
            print(f"  bytes served: repository {package_total / 1e9:.2f} GB "
                  f"({package_total / max(1, len(done)) / 1e6:.2f} MB per terminal: package "
                  f"{args.package_bytes / 1e6:.1f} MB + indexes); heartbeats {beats} x "
                  f"({up} B up + {down} B answer bodies) = {beats * (up + down) / 1e6:.2f} MB")
            print(f"  scheduler lateness (virtual s): p50 {late[len(late) // 2]:.1f}, p99 "
                  f"{late[int(0.99 * (len(late) - 1))]:.1f}; requests failed and retried "
                  f"{fleet.errors}")
            for t in terminals:
                t.client.close()
        finally:
            engine.dispose()
            server.stop()
            repo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=889)
    parser.add_argument("--spread", type=float, default=1800.0,
                        help="The rollout's spread in seconds (real fleet time).")
    parser.add_argument("--speed", type=float, default=20.0,
                        help="Time runs this many times faster than on a real fleet.")
    parser.add_argument("--package-bytes", type=int, default=PACKAGE_BYTES)
    parser.add_argument("--terminal-e2e", action="store_true",
                        help="Also run deploy/test/update_test.py (root, minutes).")
    args = parser.parse_args()
    print(f"bench_rollout: {args.terminals} terminals, one central server (SQLite)")
    for tool in ("gpg", "apt-ftparchive", "dpkg-deb"):
        if shutil.which(tool) is None:
            print(f"  skipped: {tool} not installed (apt-get install gpg apt-utils)")
            return
    run(args)
    if args.terminal_e2e:
        done = subprocess.run([sys.executable, ROOT / "deploy/test/update_test.py"],
                              capture_output=True, text=True, check=False)
        for line in done.stdout.splitlines():
            if line.startswith("figure") or line.endswith("failed"):
                print("  " + line)


if __name__ == "__main__":
    main()
