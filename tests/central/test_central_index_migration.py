"""Migration 0017 (both backends): the indexes no query reads are dropped, and a downgrade
puts them back; receipts stay unique on SQLite, where the table keeps its constraint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from central.migrate import migrate
from tests.central.migration_helpers import engine_at, move_to


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with engine_at(request.param, tmp_path, "anju_idx", "0016") as made:
        yield made


def _names(engine: Engine) -> tuple[set[str], set[str]]:
    """(index names of stay_guests, unique constraint names of events)."""
    found = inspect(engine)
    guests = {i["name"] for i in found.get_indexes("stay_guests") if i["name"]}
    receipts = {c["name"] or "unnamed" for c in found.get_unique_constraints("events")}
    return guests, receipts


def test_unread_indexes_go_and_come_back(engine: Engine) -> None:
    guests, receipts = _names(engine)
    assert "stay_guests_name" in guests and receipts
    migrate(engine)
    guests, receipts = _names(engine)
    assert "stay_guests_name" not in guests
    assert "stay_guests_document" in guests
    assert bool(receipts) == (engine.dialect.name == "sqlite")
    move_to(engine, "0016", down=True)
    guests, receipts = _names(engine)
    assert "stay_guests_name" in guests and receipts
