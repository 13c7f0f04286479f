"""Migration 0019 (both backends): each device row names its latest heartbeat, filled from the
heartbeats held; on PostgreSQL heartbeat ids are 64-bit (a province's 14 M a day would run out
of 32-bit ids in 149 days); a downgrade takes both back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, insert, inspect, select, text

from central.db.tables import devices, heartbeats, sites
from central.migrate import migrate
from tests.central.migration_helpers import engine_at, move_to

NOW = "2026-12-06T08:00:00.000000Z"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with engine_at(request.param, tmp_path, "anju_beat", "0018") as made:
        yield made


def _beat(conn: Connection, device_id: str, received: str) -> int:
    return conn.execute(insert(heartbeats).values(
        device_id=device_id, received_at=received, software_version="1.0", backlog=0,
        rejected=0, reader_status="ok", disk_free_bytes=10**9, clock_synchronised=True,
        clock_offset_ms=0)).inserted_primary_key[0]


def test_the_latest_heartbeat_is_named_and_ids_are_64_bit(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(sites).values(code="4401060001", name="测试旅馆", created_at=NOW))
        for device in ("A", "B", "C"):
            conn.execute(insert(devices).values(
                device_id=device, site_code="4401060001", secret="s", installation_id="i",
                enrolled_at=NOW, disabled=False, max_sequence=0, events_stored=0))
        beats = {device: [_beat(conn, device, f"2026-12-0{day}T08:00:00.000000Z")
                          for day in days]
                 for device, days in (("A", (1, 2, 3)), ("B", (1,)))}
    assert "last_heartbeat_id" not in {c["name"] for c in inspect(engine).get_columns("devices")}

    migrate(engine)
    with engine.connect() as conn:
        named = dict(conn.execute(select(devices.c.device_id, devices.c.last_heartbeat_id)).all())
    assert named == {"A": beats["A"][-1], "B": beats["B"][0], "C": None}  # C never sent one

    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            assert conn.execute(text(
                "SELECT data_type FROM information_schema.columns WHERE table_schema = "
                "current_schema() AND table_name = 'heartbeats' AND column_name = 'id'")
            ).scalar_one() == "bigint"
            # Past 32 bits: the sequence and the column take it.
            conn.execute(text("SELECT setval(pg_get_serial_sequence('heartbeats', 'id'), "
                              "3000000000)"))
            assert _beat(conn, "C", NOW) == 3_000_000_001
            conn.execute(heartbeats.delete().where(heartbeats.c.id == 3_000_000_001))

    move_to(engine, "0018", down=True)
    assert "last_heartbeat_id" not in {c["name"] for c in inspect(engine).get_columns("devices")}
    with engine.connect() as conn:
        assert conn.execute(select(heartbeats.c.id).order_by(heartbeats.c.id)).scalars().all() \
            == sorted(beats["A"] + beats["B"])
