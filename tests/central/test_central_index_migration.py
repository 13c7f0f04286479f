"""Migration 0017 (both backends): the indexes no query reads are dropped, and a downgrade
puts them back; receipts stay unique on SQLite, where the table keeps its constraint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, inspect

from central.db.engine import make_engine
from central.migrate import alembic_config, migrate
from tests.pgschema import pg_schema_url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'central.db'}"])
    else:
        urls = pg_schema_url("anju_idx")
    made = make_engine(next(urls), pooled=False)
    try:
        yield made
    finally:
        made.dispose()


def _names(engine: Engine) -> tuple[set[str], set[str]]:
    """(index names of stay_guests, unique constraint names of events)."""
    found = inspect(engine)
    guests = {i["name"] for i in found.get_indexes("stay_guests") if i["name"]}
    receipts = {c["name"] or "unnamed" for c in found.get_unique_constraints("events")}
    return guests, receipts


def test_unread_indexes_go_and_come_back(engine: Engine) -> None:
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0016")
    guests, receipts = _names(engine)
    assert "stay_guests_name" in guests and receipts
    migrate(engine)
    guests, receipts = _names(engine)
    assert "stay_guests_name" not in guests
    assert "stay_guests_document" in guests
    assert bool(receipts) == (engine.dialect.name == "sqlite")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0016")
    guests, receipts = _names(engine)
    assert "stay_guests_name" in guests and receipts
