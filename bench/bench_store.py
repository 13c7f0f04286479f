"""Registry store benchmarks (issue 3): commit latency, fsyncs, size per stay, list at 50,000.

Run: .venv/bin/python bench/bench_store.py [--checkins 400] [--stays 50000] [--dir DIR]

Figures and goals:
1. check-in commit latency (registry.check_in returning after COMMIT), synchronous=FULL, on the
   filesystem of --dir: median and p99
2. the same against a bare SQLite insert of the same payload bytes, one row per transaction,
   same pragmas, alternating in the same run, both WALs first filled to their autocheckpoint
   size (a WAL still growing fsyncs slower): ratio of medians                  goal < 1.5
3. fsync + fdatasync calls per check-in, counted by `strace -f -c` around N check-ins minus
   the same process doing 0                                                    goal <= 2
4. size on disk per stay with a 1024-byte WLT photo (database after checkpoint / stays)
5. at 50,000 stays: time to fold every event, to list the stays in house, and to list the
   newest 100                                                  goal: in-house list < 50 ms
The bench prints figures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from drivers.idcard.cards import decode_text_block, encode_text_block, synthetic_photo
from drivers.idcard.codes import check_character
from drivers.idcard.reading import CardType, Sex
from terminal.config import DeviceIdentity
from terminal.desk.registry import Registry
from terminal.domain.events import Kind
from terminal.domain.fold import fold
from terminal.domain.guests import Guest, guest_from_card
from terminal.store import event_chain, queries
from terminal.store.database import Store
from terminal.store.writer import Txn
from terminal.system.ids import new_id

IDENTITY = DeviceIdentity("bench-01", "4401040001")
NAMES = ["张三", "李四", "王五", "欧阳娜娜", "阿卜杜热合曼·买买提", "赵六"]


def guest(n: int) -> Guest:
    body = f"440104{1950 + n % 50}0517{n % 1000:03d}"[:17]
    fields = {
        "card_type": CardType.RESIDENT, "name": NAMES[n % len(NAMES)],
        "sex": Sex.MALE if int(body[16]) % 2 else Sex.FEMALE, "nation_code": "01",
        "birth_date": date(1950 + n % 50, 5, 17), "address": "广东省广州市越秀区北京路100号",
        "id_number": body + check_character(body), "authority": "广州市公安局越秀分局",
        "valid_from": date(2015, 1, 1), "valid_until": date(2035, 1, 1),
    }
    card = decode_text_block(encode_text_block(fields), synthetic_photo(n))
    return guest_from_card(card, guest_id=new_id())


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def filesystem(path: Path) -> str:
    best = ("?", "")
    for line in Path("/proc/mounts").read_text().splitlines():
        _dev, mount, fstype, *_ = line.split()
        if str(path.resolve()).startswith(mount) and len(mount) >= len(best[1]):
            best = (fstype, mount)
    return f"{best[0]} at {best[1]}"


def bare_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON",
                   "secure_delete = ON"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
    return conn


def bare_insert(conn: sqlite3.Connection, payload: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t (payload) VALUES (?)", (payload,))
    conn.execute("COMMIT")


def wal_full(conn: sqlite3.Connection, path: Path) -> bool:
    """Whether the WAL has reached the autocheckpoint size (it is rewritten in place from then)."""
    wal = path.with_name(path.name + "-wal")
    frames = conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    return wal.exists() and wal.stat().st_size >= 32 + frames * (24 + page)


def latency(work: Path, count: int) -> tuple[list[float], list[float], float]:
    """Alternate one check-in and one bare insert of the same bytes; both on the same disk.

    Both WALs are first filled to the autocheckpoint size, so that both are measured in the
    same state: a WAL that still grows costs the filesystem a metadata commit on every
    fdatasync (on ext4 here 1.3-3 times the fsync of a WAL rewritten in place), and a check-in
    (about 15 pages) fills it five times sooner than the bare insert (3 pages).
    """
    guests = [guest(n) for n in range(count)]
    store = Store.open(work / "latency.db", identity=IDENTITY, create=True)
    reg = Registry(store)
    bare = bare_connection(work / "bare.db")
    stays = 0
    while not wal_full(store.writer.conn, work / "latency.db"):
        reg.check_in(room=str(100 + stays % 40), guests=[guest(10**6 + stays)], operator="C01")
        stays += 1
    payload = store.writer.conn.execute("SELECT payload FROM events LIMIT 1").fetchone()[0]
    while not wal_full(bare, work / "bare.db"):
        bare_insert(bare, payload)
    checkins, inserts = [], []
    for n, g in enumerate(guests):
        start = time.perf_counter()
        saved = reg.check_in(room=str(100 + n % 40), guests=[g], operator="C01")
        checkins.append(time.perf_counter() - start)
        # Read back on the writer's own connection: sqlite-utils (store.db) would switch on
        # recursive_triggers there, a pragma the service never sets.
        payload = store.writer.conn.execute("SELECT payload FROM events WHERE event_id = ?",
                                            saved.event_ids).fetchone()[0]
        start = time.perf_counter()
        bare_insert(bare, payload)
        inserts.append(time.perf_counter() - start)
    store.writer.checkpoint()
    size = (work / "latency.db").stat().st_size / (stays + count)
    # The same again without fsync: what is left is CPU and SQLite page work, which tells
    # whether the ratio is the disk's or the code's.
    store.writer.conn.execute("PRAGMA synchronous = OFF")
    bare.execute("PRAGMA synchronous = OFF")
    cpu_checkin, cpu_bare = [], []
    for n, g in enumerate(guest(count + n) for n in range(200)):
        start = time.perf_counter()
        reg.check_in(room=str(100 + n % 40), guests=[g], operator="C01")
        cpu_checkin.append(time.perf_counter() - start)
        start = time.perf_counter()
        bare_insert(bare, payload)
        cpu_bare.append(time.perf_counter() - start)
    print(f"   without fsync (synchronous=OFF): check-in {ms(statistics.median(cpu_checkin))}, "
          f"bare insert {ms(statistics.median(cpu_bare))}")
    store.close()
    bare.close()
    return checkins, inserts, size


def child(db: Path, count: int, bare: bool) -> None:
    """The process strace watches: open, then `count` writes (0 for the baseline)."""
    guests = [guest(n) for n in range(count)]
    if bare:
        conn = bare_connection(db)
        for n in range(count):
            bare_insert(conn, "x" * 3300 + str(n))
        conn.close()
        return
    store = Store.open(db, identity=IDENTITY, create=True)
    reg = Registry(store)
    for n, g in enumerate(guests):
        reg.check_in(room=str(100 + n % 40), guests=[g], operator="C01")
    store.close()


def fsyncs(work: Path, count: int, bare: bool) -> float | None:
    if shutil.which("strace") is None:
        return None
    calls = []
    for n in (0, count):
        db = work / f"strace-{bare}-{n}.db"
        report = work / "strace.txt"
        subprocess.run(["strace", "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", str(report),
                        sys.executable, __file__, "--child", str(db), str(n)]
                       + (["--bare"] if bare else []), check=True, capture_output=True)
        calls.append(sum(int(m) for m in re.findall(
            r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(?:fsync|fdatasync)$",
            report.read_text(), flags=re.M)))
    return (calls[1] - calls[0]) / count


def build(store: Store, stays: int, in_house: int) -> None:
    """50,000 stays through the writer's own append path, 1,000 per transaction for speed."""
    guests = [guest(n) for n in range(200)]  # payloads vary little; ids are per stay
    batch = 1000

    def work(txn: Txn, first: int) -> None:
        instant = txn.now()
        for n in range(first, min(first + batch, stays)):
            g = guests[n % len(guests)]
            g = Guest.from_json({**g.to_json(), "guest_id": new_id()})
            stay_id = new_id()
            data = {"room": str(100 + n % 60), "expected_check_out": None,
                    "guests": [g.to_json()], "findings": [], "overrides": [],
                    "code_tables": {}}
            stays_map: dict = {}
            txn.append(stays_map, kind=Kind.CHECK_IN, stay_id=stay_id, data=data,
                       operator="C01", instant=instant)
            if n >= in_house:
                txn.append(stays_map, kind=Kind.CHECK_OUT, stay_id=stay_id,
                           data={"guest_ids": [g.guest_id]}, operator="C01", instant=instant)

    for first in range(0, stays, batch):
        store.writer.transaction(lambda txn, first=first: work(txn, first))
    store.writer.checkpoint()


def timed(func, repeat: int = 20) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def at_scale(work: Path, stays: int, in_house: int) -> None:
    path = work / "scale.db"
    store = Store.open(path, identity=IDENTITY, create=True)
    start = time.perf_counter()
    build(store, stays, in_house)
    print(f"  built {stays} stays ({in_house} in house) in {time.perf_counter() - start:.1f} s; "
          f"{path.stat().st_size / stays:.0f} bytes per stay on disk")
    with store.reader() as conn:
        def fold_all() -> None:
            fold(event_chain.event_from_row(r) for r in event_chain.iter_rows(conn))

        print(f"  fold every event ({2 * stays - in_house} events): {ms(timed(fold_all, 3))}")
        rows = queries.list_in_house(conn)
        print(f"  in-house list ({len(rows)} stays): "
              f"{ms(timed(lambda: queries.list_in_house(conn)))} (goal < 50 ms)")
        print(f"  newest 100 stays: {ms(timed(lambda: queries.list_stays(conn, limit=100)))}")

    def open_and_list() -> None:
        with store.reader() as conn:
            queries.list_in_house(conn)

    print(f"  in-house list including opening a reader connection: {ms(timed(open_and_list))}")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkins", type=int, default=400)
    parser.add_argument("--stays", type=int, default=50_000)
    parser.add_argument("--in-house", type=int, default=200)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--child", nargs=2, metavar=("DB", "N"), help=argparse.SUPPRESS)
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), int(args.child[1]), args.bare)
        return
    work = Path(tempfile.mkdtemp(prefix="anju-bench-", dir=args.dir))
    try:
        print(f"bench_store: {work} on {filesystem(work)}, SQLite {sqlite3.sqlite_version}")
        checkins, inserts, size = latency(work, args.checkins)
        c_med, b_med = statistics.median(checkins), statistics.median(inserts)
        print(f"1. check-in commit latency ({args.checkins}): median {ms(c_med)}, "
              f"p99 {ms(pct(checkins, 0.99))}")
        print(f"2. bare insert of the same bytes: median {ms(b_med)}, p99 {ms(pct(inserts, 0.99))}"
              f"; ratio check-in/bare {c_med / b_med:.2f} (goal < 1.5)")
        per_checkin = fsyncs(work, 200, bare=False)
        per_bare = fsyncs(work, 200, bare=True)
        if per_checkin is None:
            print("3. fsyncs per check-in: strace not installed, skipped")
        else:
            print(f"3. fsync+fdatasync per check-in: {per_checkin:.2f} (goal <= 2); "
                  f"bare insert: {per_bare:.2f}")
        print(f"4. size on disk per stay (1024-byte photo, one guest): {size:.0f} bytes")
        print(f"5. at {args.stays} stays:")
        at_scale(work, args.stays, args.in_house)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        os.sync()


if __name__ == "__main__":
    main()
