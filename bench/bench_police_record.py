"""The whole record of a stay and the export, on a real server process (issue 17).

Run: .venv/bin/python bench/bench_police_record.py [--stays 100000] [--sites 889]
         [--views 400] [--backend postgresql|sqlite] [--pg-schema NAME] [--keep]

Loads the search projection as bench/bench_police.py does, then every stay's events the way a
terminal sends them: a check-in carrying each guest's every field (sex, birth date, 民族,
address, document with validity, a 1024-byte WLT card photo for resident cards, visa and entry
for foreigners, findings with an override reason) and a check-out, hash-chained per device.
Then it starts `anju central serve` with the fake WLT decoder (built with gcc; without it the
page shows "未配置照片解码") and measures over HTTP, as an officer's browser would:

    stay page        GET /stay/{id}: every field, findings, history, one decoded photo,
                     audited                                               goal p99 < 50 ms
    export           XLSX and CSV of ~2,500 / 5,000 / 10,000 stays (date ranges): rows/s, and
                     the server process's peak RSS above its resting RSS during each export
                     (VmHWM reset through /proc/PID/clear_refs): flat in the rows = streamed

It prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import requests  # noqa: E402
from bench_police import load, postgres_engine  # noqa: E402
from sqlalchemy import Engine, text  # noqa: E402

from central.accounts import admin  # noqa: E402
from central.db.engine import make_engine  # noqa: E402
from central.db.tables import events  # noqa: E402
from central.migrate import migrate  # noqa: E402
from sync.chain import GENESIS, canonical_json, chain_hash, sha256_hex  # noqa: E402
from tests.central.police_helpers import OPERATOR, Browser  # noqa: E402
from tests.central.serverproc import CentralServer  # noqa: E402
from tests.wlt.fake_decoder import LICENCE, build_fake_decoder, wlt_block  # noqa: E402

EVENT_COLUMNS = [c.name for c in events.columns]


def guest_fields(row: dict, rng: random.Random) -> dict:
    """Every field a terminal registers for this guest (as in the check-in payload)."""
    doc = {
        "type_code": row["document_type"],
        "number": row["document_number"],
        "issuing_country": row["nationality"],
        "valid_until": "2035-06-01",
    }
    fields = {
        "guest_id": row["guest_id"],
        "role": row["role"],
        "name": row["name"],
        "sex": rng.choice(("male", "female")),
        "birth_date": "1985-03-07",
        "nationality": row["nationality"],
        "document": doc,
    }
    if row["document_type"] == "11":
        fields.update(
            nation_code=f"{rng.randrange(1, 57):02d}",
            address=f"广东省广州市天河区体育西路{rng.randrange(1, 300)}号",
            phone=f"139{rng.randrange(10**8):08d}",
        )
        doc.update(
            source="card",
            issuing_authority="广州市公安局天河分局",
            valid_from="2015-06-01",
            card={
                "card_type": "resident",
                "photo_wlt_b64": base64.b64encode(wlt_block(row["guest_id"])).decode("ascii"),
                "photo_sha256": "0" * 64,
                "text_block_b64": "A" * 344,
            },
        )
    else:
        doc.update(
            source="scan",
            visa={
                "visa_type": "L",
                "visa_number": "V12345678",
                "stay_until": "2027-01-15",
                "entry_date": "2026-11-30",
                "entry_port": "广州白云机场",
            },
        )
    return fields


def load_events(engine: Engine, rng: random.Random) -> int:
    """A check-in and a check-out per stay, chained per device; COPY on PostgreSQL."""
    with engine.connect() as conn:
        stay_rows = conn.execute(
            text(
                "SELECT stay_id, device_id, site_code, checked_in_at, "
                "checked_out_at FROM stays ORDER BY checked_in_at"
            )
        ).all()
        guests: dict[str, list[dict]] = {}
        for g in conn.execute(text("SELECT * FROM stay_guests")).mappings():
            guests.setdefault(g["stay_id"], []).append(dict(g))
    chains: dict[str, tuple[int, str]] = {}
    batch: list[dict] = []
    count = 0
    for stay in stay_rows:
        party = [guest_fields(g, rng) for g in guests.get(stay.stay_id, [])]
        finding = (
            [
                {
                    "code": "document.id_check_digit",
                    "severity": "warn",
                    "field": "",
                    "guest_id": party[0]["guest_id"],
                    "message": "check digit",
                    "message_zh": "身份证号码校验位错误。",
                }
            ]
            if party
            else []
        )
        for kind, at, data in (
            (
                "check_in",
                stay.checked_in_at,
                {"room": "101", "guests": party, "findings": finding, "overrides": []},
            ),
            ("check_out", stay.checked_out_at, {"guest_ids": [g["guest_id"] for g in party]}),
        ):
            sequence, previous = chains.get(stay.device_id, (0, GENESIS))
            header = {
                "event_id": str(uuid.uuid4()),
                "device_id": stay.device_id,
                "site_code": stay.site_code,
                "sequence": sequence + 1,
                "kind": kind,
                "stay_id": stay.stay_id,
                "target_event_id": None,
                "wall_time": at,
                "clock_synchronised": True,
                "monotonic_ns": 10**9 * (sequence + 1),
                "boot_id": "boot-1",
                "operator": "0007",
            }
            payload = canonical_json({**header, "data": data})
            digest = sha256_hex(payload)
            chained = chain_hash(sequence + 1, previous, digest)
            chains[stay.device_id] = (sequence + 1, chained)
            batch.append(
                {
                    **header,
                    "receipt": uuid.uuid4().hex,
                    "payload": payload,
                    "withheld": None,
                    "payload_sha256": digest,
                    "prev_chain_sha256": previous,
                    "chain_sha256": chained,
                    "received_at": at,
                    "clock_offset_ms": 0,
                    "corrected_time": at,
                    "time_source": "device",
                }
            )
            count += 1
        if len(batch) >= 5000:
            _write(engine, batch)
            batch = []
    _write(engine, batch)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text("VACUUM ANALYZE events" if engine.dialect.name == "postgresql" else "ANALYZE")
        )
    return count


def _write(engine: Engine, rows: list[dict]) -> None:
    if not rows:
        return
    if engine.dialect.name != "postgresql":
        with engine.begin() as conn:
            conn.execute(events.insert(), rows)
        return
    raw = engine.raw_connection()
    try:
        with (
            raw.driver_connection.cursor() as cursor,
            cursor.copy(f"COPY events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row([row[n] for n in EVENT_COLUMNS])
        raw.commit()
    finally:
        raw.close()


def rss_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far: a figure the machine's load does not
    inflate, unlike wall time on a shared 2-core host."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    server: CentralServer, browser: Browser, engine: Engine, args: argparse.Namespace
) -> None:
    rng = random.Random(17)
    with engine.connect() as conn:
        ids = [
            r[0]
            for r in conn.execute(
                text("SELECT stay_id FROM stay_guests WHERE document_type = '11' LIMIT 20000")
            )
        ]
    times = []
    pid = server.process.pid  # type: ignore[union-attr]
    cpu_before = cpu_s(pid)
    for _ in range(args.views):
        start = time.perf_counter()
        page = browser.get(f"/stay/{rng.choice(ids)}", reason="基准测试 2026-17", csrf=browser.csrf)
        times.append((time.perf_counter() - start) * 1000)
        assert page.status_code == 200, page.text[:300]
    times.sort()
    cpu_ms = (cpu_s(pid) - cpu_before) * 1000 / args.views
    photo = "decoded photo" if 'alt="证件照片"' in page.text else "no photo decoder"
    print(
        f"stay page ({photo}, {len(page.text) // 1024} KiB)  p50 "
        f"{statistics.median(times):6.1f} ms  p99 "
        f"{times[int(len(times) * 0.99) - 1]:6.1f} ms   (goal p99 < 50); server CPU "
        f"{cpu_ms:.1f} ms per page; load average {os.getloadavg()[0]:.1f}"
    )
    with engine.connect() as conn:
        first = conn.execute(text("SELECT min(checked_in_at) FROM stays")).scalar_one()
    day0 = datetime.fromisoformat(first[:10])
    per_day = args.stays / 400
    for target in (2500, 5000, 10_000):
        days = max(1, round(target / per_day)) - 1
        until = (day0 + timedelta(days=days)).date().isoformat()
        for fmt_name in ("xlsx", "csv"):
            rest = rss_kib(pid, "VmRSS")
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            start, cpu_before = time.perf_counter(), cpu_s(pid)
            reply = requests.get(
                server.url + "/export",
                timeout=600,
                params={
                    "from": day0.date().isoformat(),
                    "to": until,
                    "reason": "基准测试 2026-17",
                    "format": fmt_name,
                    "csrf": browser.csrf,
                },
                headers={"Cookie": "; ".join(f"{k}={v}" for k, v in browser.cookies.items())},
            )
            elapsed = time.perf_counter() - start
            cpu = cpu_s(pid) - cpu_before
            assert reply.status_code == 200, reply.text[:300]
            peak = rss_kib(pid, "VmHWM")
            with engine.connect() as conn:
                stays_n = conn.execute(
                    text("SELECT result_count FROM audit_log ORDER BY id DESC LIMIT 1")
                ).scalar_one()
            rows = _rows(reply.content, fmt_name)
            print(
                f"export {fmt_name:4} {stays_n:6} stays {rows:6} rows "
                f"{len(reply.content) // 1024:6} KiB  {elapsed:6.2f} s = "
                f"{rows / elapsed:7,.0f} rows/s ({rows / cpu:7,.0f} per server CPU s)   peak "
                f"RSS +{(peak - rest) / 1024:5.1f} MiB above resting {rest / 1024:.0f} MiB"
            )


def _rows(body: bytes, fmt_name: str) -> int:
    if fmt_name == "csv":
        return body.count(b"\r\n") - 1
    import io

    import openpyxl

    return openpyxl.load_workbook(io.BytesIO(body), read_only=True).active.max_row - 1


@contextmanager
def backend(args: argparse.Namespace) -> Iterator[tuple[Engine, str]]:
    if args.backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db"
            engine = make_engine(url, pool_size=4)
            try:
                yield engine, url
            finally:
                engine.dispose()
        return
    with postgres_engine(args.pg_schema, args.keep) as engine:
        yield engine, engine.url.render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stays", type=int, default=100_000)
    parser.add_argument("--sites", type=int, default=889)
    parser.add_argument("--views", type=int, default=400)
    parser.add_argument("--backend", default="postgresql", choices=("postgresql", "sqlite"))
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--pg-schema", help="reuse a schema kept by --keep (no load)")
    args = parser.parse_args()
    rng = random.Random(17)
    with backend(args) as (engine, url), tempfile.TemporaryDirectory() as tmp:
        migrate(engine)
        with engine.connect() as conn:
            loaded = conn.execute(text("SELECT count(*) FROM events")).scalar_one()
        if not loaded:
            start = time.perf_counter()
            load(engine, args.stays, args.sites, rng)
            count = load_events(engine, rng)
            print(
                f"[{args.backend}] loaded {args.stays} stays and {count} events with "
                f"payloads in {time.perf_counter() - start:.0f} s"
            )
        admin.add_user(
            engine, f"bench-{uuid.uuid4().hex[:6]}", "officer", "pw-bench-17", by=OPERATOR
        )
        with engine.connect() as conn:
            name = conn.execute(
                text("SELECT username FROM users ORDER BY created_at DESC LIMIT 1")
            ).scalar_one()
        extra: tuple[str, ...] = ()
        try:
            extra = (
                "--photo-library",
                str(build_fake_decoder(Path(tmp))),
                "--photo-licence-code",
                str(LICENCE),
            )
        except BaseException:  # pytest's skip where gcc is missing: measure without photos
            print("no gcc: the stay page is measured without a photo decoder")
        with CentralServer(url, Path(tmp) / "server.log", extra_args=extra) as server:
            browser = Browser(server.url)
            assert browser.login(name, "pw-bench-17").status_code == 303
            measure(server, browser, engine, args)


if __name__ == "__main__":
    main()
