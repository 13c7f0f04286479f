"""Migration 0008 on a database that an earlier version let foreign events into: each stay gets
its first writer as owner, and the stays they touched are folded again without them (both
backends)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select

from central.db import tables
from central.migrate import current_revision, head_revision, migrate
from central.police.stay import history
from sync.protocol import WireEvent
from tests.central.migration_helpers import engine_at
from tests.central.police_helpers import id_number, unique_name
from tests.sync.wire_helpers import EventChain, guest


@pytest.fixture(params=["sqlite", "postgresql"])
def old_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database at revision 0007 (before ownership)."""
    with engine_at(request.param, tmp_path, "anju_own", "0007") as engine:
        yield engine


def stored(event: WireEvent, received: str) -> dict[str, object]:
    return {
        **event.header(),
        "payload": event.payload,
        "withheld": None,
        "payload_sha256": event.payload_sha256,
        "prev_chain_sha256": event.prev_chain_sha256,
        "chain_sha256": event.chain_sha256,
        "receipt": "R" + event.event_id[:12],
        "received_at": received,
        "clock_offset_ms": 0,
        "corrected_time": event.wall_time,
        "time_source": "device",
    }


def test_stays_reached_by_foreign_events_are_owned_and_folded_again(old_engine: Engine) -> None:
    assert current_revision(old_engine) == "0007"
    owner = EventChain("T-site-a-dev", "T-site-a")
    # The attacker's device id sorts first: the old projection took the stay's site from it.
    foreign = EventChain("A-site-b-dev", "A-site-b")
    main = guest(unique_name(), id_number())
    check_in = owner.check_in(room="301", guests=[main])
    renamed = foreign.event(
        "amend",
        check_in.stay_id,
        {
            "field": f"guest.{main['guest_id']}.name",
            "old": main["name"],
            "new": "冒名",
            "reason": "x",
        },
        target_event_id=check_in.event_id,
    )
    voided = foreign.event(
        "void", check_in.stay_id, {"reason": "x"}, target_event_id=check_in.event_id
    )
    with old_engine.begin() as conn:
        conn.execute(
            insert(tables.events),
            [
                stored(check_in, "2025-03-01T03:00:00.000000Z"),
                stored(renamed, "2025-03-02T03:00:00.000000Z"),
                stored(voided, "2025-03-02T03:00:00.000000Z"),
            ],
        )
        # What the old projection left: moved to the attacker's site, renamed, voided.
        conn.execute(
            insert(tables.stays).values(
                stay_id=check_in.stay_id,
                device_id=foreign.device_id,
                site_code=foreign.site_code,
                room="301",
                status="voided",
                complete=True,
                checked_in_at=check_in.wall_time,
                voided_at=voided.wall_time,
                time_corrected=False,
                event_count=3,
                updated_at="2025-03-02T03:00:00.000000Z",
            )
        )
        conn.execute(
            insert(tables.stay_guests).values(
                stay_id=check_in.stay_id,
                guest_id=main["guest_id"],
                name="冒名",
                document_number=main["document"]["number"],
            )
        )
    assert migrate(old_engine) == ("0007", head_revision())
    with old_engine.connect() as conn:
        owners = conn.execute(select(tables.stay_owners)).all()
        stay = conn.execute(select(tables.stays)).one()
        names = conn.execute(select(tables.stay_guests.c.name)).scalars().all()
        events = history(conn, check_in.stay_id, stay.device_id)
    assert [(o.stay_id, o.device_id, o.site_code) for o in owners] == [
        (check_in.stay_id, owner.device_id, owner.site_code)
    ]
    assert (stay.device_id, stay.site_code, stay.status, stay.voided_at, stay.event_count) == (
        owner.device_id,
        owner.site_code,
        "in_house",
        None,
        1,
    )
    assert names == [main["name"]]
    assert [e["event_id"] for e in events] == [check_in.event_id]
