"""Retention (issue 19): `anju central purge` removes stays older than the retention, whole
(stay, guests, events with their photos, feed records), keeps the newer ones, and writes an
audit row; on PostgreSQL by dropping month partitions (migration 0015), on SQLite by deletes.

Old data is made by ingesting in-process with an old receive time: the server's time is what
dates a stay (stay_owners.claimed_at -> stay_month). The same purge removes heartbeats older
than their own retention and day reports of purged months, each terminal's latest of both
kept, and expired login sessions (central/devices/history.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Connection, Engine, func, insert, select, text, update

from central.accounts import audit
from central.accounts.principals import ABSOLUTE_S, IDLE_S
from central.db import partitions
from central.db.tables import (
    day_reports,
    devices,
    events,
    feed_log,
    heartbeats,
    stay_guests,
    stays,
    user_sessions,
    users,
)
from central.devices import enrolment, ingest
from central.devices.authentication import Device
from central.stays import retention
from sync.fields import format_utc
from sync.protocol import BatchEnvelope, SenderClock
from terminal.cli import cli
from tests.pgschema import pg_schema_url
from tests.sync.wire_helpers import EventChain, guest

RETENTION_DAYS = 365
PHOTO = "QUJD" * 300  # stands for a WLT photo: it travels in the check-in's payload


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'central.db'}"
    else:
        yield from pg_schema_url("anju_purge")


class Terminal:
    def __init__(self, engine: Engine, name: str) -> None:
        enrolment.add_site(engine, f"S-{name}", "测试旅馆")
        with engine.begin() as conn:
            conn.execute(insert(devices).values(
                device_id=f"D-{name}", site_code=f"S-{name}", secret="x", installation_id="i",
                enrolled_at="2025-01-01T00:00:00.000000Z", max_sequence=0, events_stored=0,
                disabled=False))
        self.engine = engine
        self.device = Device(f"D-{name}", f"S-{name}", False)
        self.chain = EventChain(self.device.device_id, self.device.site_code)

    def stay(self, received: datetime) -> str:
        """A check-in received at `received`."""
        check_in = self.chain.check_in(guests=[guest(photo_wlt_b64=PHOTO)])
        self._send([check_in], received)
        return check_in.stay_id

    def check_out(self, stay_id: str, received: datetime) -> None:
        check_in = next(e for e in self.chain.events if e.stay_id == stay_id)
        self._send([self.chain.check_out(check_in)], received)

    def _send(self, batch: list, received: datetime) -> None:
        envelope = BatchEnvelope(self.device.device_id, self.device.site_code,
                                 SenderClock(received.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
                                             True, 1, "boot-1"), list(batch),
                                 [e.event_id for e in batch])
        answer = ingest.ingest(self.engine, self.device, envelope, received)
        assert all(r.delivered for r in answer.results), answer


def count(engine: Engine, table: object, stay_id: str) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)  # type: ignore[arg-type]
                            .where(table.c.stay_id == stay_id)).scalar_one()  # type: ignore[attr-defined]


def test_purge_removes_whole_old_stays_keeps_newer_and_is_audited(engine: Engine,
                                                                  db_url: str) -> None:
    now = datetime.now(UTC)
    first_kept = retention.keep_from(now, RETENTION_DAYS)
    kept_start = datetime.strptime(first_kept + "-01", "%Y-%m-%d").replace(tzinfo=UTC)
    old = datetime(2025, 1, 15, 8, tzinfo=UTC)
    with engine.begin() as conn:  # a partition for the old month (PostgreSQL; else no-op)
        partitions.ensure(conn, old)
    terminal = Terminal(engine, "a")
    orphan_month = terminal.stay(datetime(2024, 6, 2, tzinfo=UTC))  # no partition: default
    purged = terminal.stay(old)  # in its partition (PostgreSQL)
    # Kept: first seen at the start of the first kept month (older than the retention by
    # days: months are whole), and now.
    boundary = terminal.stay(kept_start + timedelta(minutes=5))
    # The old stay checked out after the first kept month began: the check-out belongs to
    # the stay's month and goes with it (its feed record stays until next month's purge).
    terminal.check_out(purged, kept_start + timedelta(hours=1))
    recent = terminal.stay(now)

    runner = CliRunner()
    dry = runner.invoke(cli, ["central", "purge", "--db", db_url, "--retention-days",
                              str(RETENTION_DAYS), "--dry-run", "--json"])
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout.splitlines()[-1])
    assert plan["dry_run"] and plan["keep_from"] == first_kept
    assert {"2024-06", "2025-01"} <= set(plan["months"])
    assert all(m < first_kept for m in plan["months"])
    assert plan["rows"]["events"] == 3 and plan["rows"]["stays"] == 2
    assert plan["rows"]["stay_guests"] == 2
    assert count(engine, events, purged) == 2  # a dry run changes nothing
    audit_rows = audit.count(engine)

    done = runner.invoke(cli, ["central", "purge", "--db", db_url, "--retention-days",
                               str(RETENTION_DAYS)])
    assert done.exit_code == 0, done.output
    assert "removed months: 2024-06, 2025-01" in done.output
    for stay_id in (purged, orphan_month):
        assert [count(engine, t, stay_id) for t in (events, stays, stay_guests)] == [0, 0, 0]
    for stay_id in (boundary, recent):
        assert [count(engine, t, stay_id) for t in (events, stays, stay_guests)] == [1, 1, 1]
    with engine.connect() as conn:
        # Consistent: every stay has its events and every stored event its stay.
        assert conn.execute(text(
            "SELECT count(*) FROM stays s WHERE NOT EXISTS "
            "(SELECT 1 FROM events e WHERE e.stay_id = s.stay_id)")).scalar_one() == 0
        assert conn.execute(text(
            "SELECT count(*) FROM events e WHERE NOT EXISTS "
            "(SELECT 1 FROM stays s WHERE s.stay_id = e.stay_id)")).scalar_one() == 0
        # The feed keeps no record written before the first kept month.
        fed = conn.execute(select(feed_log.c.stay_id, feed_log.c.recorded_at)).all()
        assert all(r.recorded_at >= f"{first_kept}-01" for r in fed)
        assert [r.stay_id for r in fed] == [boundary, purged, recent]
        # The photo went with its event: no payload of the purged stay is left anywhere.
        assert conn.execute(select(func.count()).select_from(events)
                            .where(events.c.payload.contains(PHOTO[:40]),
                                   events.c.stay_id == purged)).scalar_one() == 0
        if conn.dialect.name == "postgresql":
            left = {(p.table, p.month) for p in partitions.partitions(conn)}
            assert ("events", "2025-01") not in left and ("stays", "2025-01") not in left
            assert ("events", now.strftime("%Y-%m")) in left
            assert ("stay_guests", None) in left  # the default partition stays
            assert "events_2025_01" in done.output
    rows = audit.rows(engine, limit=5)
    assert audit.count(engine) == audit_rows + 1
    latest = rows[0]
    assert (latest["action"], latest["reason"], latest["result_count"]) == (
        "purge", f"retention {RETENTION_DAYS} days", 3)
    assert json.loads(latest["query"])["keep_from"] == first_kept
    assert audit.verify(engine).ok

    again = runner.invoke(cli, ["central", "purge", "--db", db_url, "--retention-days",
                                str(RETENTION_DAYS), "--json"])
    assert again.exit_code == 0
    assert json.loads(again.stdout.splitlines()[-1])["rows"]["events"] == 0


def test_purge_without_a_retention_refuses(engine: Engine, db_url: str) -> None:
    Terminal(engine, "b").stay(datetime(2025, 1, 15, tzinfo=UTC))
    result = CliRunner().invoke(cli, ["central", "purge", "--db", db_url],
                                env={"ANJU_CENTRAL_RETENTION_DAYS": None})
    assert result.exit_code == 1 and "no retention set" in result.output
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(events)).scalar_one() == 1


def beat(conn: Connection, device_id: str, received: datetime) -> None:
    """A heartbeat as central/devices/heartbeat.py stores one: the row, and the device row
    naming it as its latest (given in time order here)."""
    beat_id = conn.execute(insert(heartbeats).values(
        device_id=device_id, received_at=format_utc(received), software_version="1.0",
        backlog=0, rejected=0, reader_status="ok", disk_free_bytes=10**9,
        clock_synchronised=True, clock_offset_ms=0)).inserted_primary_key[0]
    conn.execute(update(devices).where(devices.c.device_id == device_id)
                 .values(last_heartbeat_id=beat_id))


def test_purge_removes_old_heartbeats_day_reports_and_dead_sessions_keeping_each_latest(
        engine: Engine, db_url: str) -> None:
    now = datetime.now(UTC)
    first_kept = retention.keep_from(now, RETENTION_DAYS)
    busy, silent = Terminal(engine, "busy"), Terminal(engine, "silent")
    with engine.begin() as conn:
        for days in (30, 9, 8, 6, 0):  # heartbeat retention 7 days: 30, 9 and 8 go
            beat(conn, busy.device.device_id, now - timedelta(days=days))
        for days in (400, 200):  # silent for 200 days: its last heartbeat stays
            beat(conn, silent.device.device_id, now - timedelta(days=days))
        for device, day in ((busy, "2024-03-01"), (busy, f"{first_kept}-01"),
                            (busy, now.strftime("%Y-%m-%d")), (silent, "2024-02-01"),
                            (silent, "2024-03-02")):  # the silent one's latest is kept
            conn.execute(insert(day_reports).values(
                device_id=device.device.device_id, day=day, check_ins=0,
                reported_at=format_utc(now)))
        conn.execute(insert(users).values(
            username="警员1", role="officer", password_hash="x", disabled=False,
            created_at=format_utc(now), password_set_at=format_utc(now)))
        clock = now.timestamp()
        for key, created, seen in (("live", clock - 60, clock - 10),
                                   ("idle", clock - 3600, clock - IDLE_S - 5),
                                   ("old", clock - ABSOLUTE_S - 5, clock - 10)):
            conn.execute(insert(user_sessions).values(
                token_sha256=key * 8, username="警员1", csrf_token="c", created_s=created,
                last_seen_s=seen))
    runner = CliRunner()
    args = ["central", "purge", "--db", db_url, "--retention-days", str(RETENTION_DAYS),
            "--heartbeat-retention-days", "7", "--statement-timeout", "60", "--json"]
    dry = runner.invoke(cli, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    planned = json.loads(dry.stdout.splitlines()[-1])
    assert (planned["rows"]["heartbeats"], planned["rows"]["day_reports"],
            planned["rows"]["user_sessions"]) == (4, 2, 2)
    assert planned["heartbeat_retention_days"] == 7
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(heartbeats)).scalar_one() == 7

    done = runner.invoke(cli, args)
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout.splitlines()[-1])["rows"]["heartbeats"] == 4
    with engine.connect() as conn:
        kept = sorted((r.device_id, r.received_at[:10]) for r in conn.execute(
            select(heartbeats.c.device_id, heartbeats.c.received_at)))
        assert kept == sorted([
            ("D-busy", format_utc(now - timedelta(days=6))[:10]),
            ("D-busy", format_utc(now)[:10]),
            ("D-silent", format_utc(now - timedelta(days=200))[:10])])
        reports = sorted((r.device_id, r.day) for r in conn.execute(
            select(day_reports.c.device_id, day_reports.c.day)))
        assert reports == sorted([("D-busy", f"{first_kept}-01"),
                                  ("D-busy", now.strftime("%Y-%m-%d")),
                                  ("D-silent", "2024-03-02")])
        assert [r.token_sha256 for r in conn.execute(select(user_sessions.c.token_sha256))
                ] == ["live" * 8]
    query = json.loads(audit.rows(engine, limit=1)[0]["query"])
    assert (query["rows_heartbeats"], query["rows_day_reports"], query["rows_user_sessions"],
            query["heartbeat_retention_days"]) == (4, 2, 2, 7)
    assert audit.verify(engine).ok


def test_heartbeat_retention_comes_from_its_environment_variable(
        engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANJU_CENTRAL_RETENTION_DAYS", str(RETENTION_DAYS))
    monkeypatch.setenv("ANJU_CENTRAL_HEARTBEAT_RETENTION_DAYS", "30")
    device = Terminal(engine, "env").device.device_id
    now = datetime.now(UTC)
    with engine.begin() as conn:
        for days in (31, 29, 0):
            beat(conn, device, now - timedelta(days=days))
    result = CliRunner().invoke(cli, ["central", "purge", "--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout.splitlines()[-1])
    assert (plan["heartbeat_retention_days"], plan["rows"]["heartbeats"]) == (30, 1)
