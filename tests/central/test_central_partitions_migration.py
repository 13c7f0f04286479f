"""Migration 0015 on a database holding stays (both backends): every row is kept and gets its
stay's month (the owner's claim, else the first event's arrival, else the stay's last fold);
on PostgreSQL the tables become partitioned, one partition per month held plus the coming
ones, with their indexes, and the keys still refuse a duplicate."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy.exc
from sqlalchemy import Engine, insert, select, text

from central.db import partitions, tables
from central.migrate import migrate
from tests.central.migration_helpers import engine_at
from tests.central.test_central_ownership_migration import stored
from tests.sync.wire_helpers import EventChain, guest


@pytest.fixture(params=["sqlite", "postgresql"])
def old_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database at revision 0014 (before stay_month)."""
    with engine_at(request.param, tmp_path, "anju_part", "0014") as engine:
        yield engine


def test_rows_keep_and_get_their_stays_month(old_engine: Engine) -> None:
    chain = EventChain("D-old", "S-old")
    owned = chain.check_in(guests=[guest()])  # claimed in January 2025
    unowned = chain.check_in(guests=[guest()])  # no owner row: its first event's arrival
    with old_engine.begin() as conn:
        conn.execute(insert(tables.stay_owners).values(
            stay_id=owned.stay_id, device_id="D-old", site_code="S-old",
            claimed_at="2025-01-31T23:00:00.000000Z"))
        conn.execute(insert(tables.events).values(
            **stored(owned, "2025-02-01T01:00:00.000000Z")))
        conn.execute(insert(tables.events).values(
            **stored(unowned, "2025-03-05T01:00:00.000000Z")))
        for stay_id in (owned.stay_id, unowned.stay_id):
            conn.execute(insert(tables.stays).values(
                stay_id=stay_id, device_id="D-old", site_code="S-old", room="1",
                status="in_house", complete=True, checked_in_at="2025-01-31T23:00:00.000000Z",
                time_corrected=False, event_count=1, updated_at="2025-03-05T01:00:00.000000Z"))
            conn.execute(insert(tables.stay_guests).values(
                stay_id=stay_id, guest_id=f"g-{stay_id[:8]}", name="赵六"))
    migrate(old_engine)
    with old_engine.connect() as conn:
        for table in (tables.events, tables.stays, tables.stay_guests):
            months = dict(conn.execute(select(table.c.stay_id, table.c.stay_month)).all())
            assert months == {owned.stay_id: "2025-01", unowned.stay_id: "2025-03"}, table.name
        if conn.dialect.name != "postgresql":
            return
        held = {(p.table, p.month) for p in partitions.partitions(conn)}
        now = datetime.now(UTC).strftime("%Y-%m")
        for table in tables.PARTITIONED:
            assert {(table, "2025-01"), (table, "2025-03"), (table, now), (table, None)} <= held
        assert conn.execute(text(
            "SELECT count(*) FROM events_2025_01")).scalar_one() == 1
        indexes = set(conn.execute(text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
            "AND tablename IN ('events', 'stays', 'stay_guests')")).scalars())
        assert {"events_stay", "events_device_sequence", "stays_site_room", "stays_newest",
                "stay_guests_name_trgm", "stay_guests_document", "events_pkey"} <= indexes
    with pytest.raises(sqlalchemy.exc.IntegrityError), old_engine.begin() as conn:
        row = conn.execute(select(tables.events).where(
            tables.events.c.event_id == owned.event_id)).one()
        conn.execute(insert(tables.events).values(
            **{**row._mapping, "receipt": "R-other"}))  # the same id again: refused
