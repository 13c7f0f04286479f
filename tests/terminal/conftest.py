"""Fixtures for the terminal's tests: a store on disk with a settable clock; `anju` commands
forked from the worker's fork server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.desk.registry import Registry
from terminal.system.clock import FixedClock
from tests.anju import forked_anju
from tests.terminal.registry_helpers import START, open_store

__all__ = ["forked_anju"]  # autouse: `anju` commands forked (tests/anju.py)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "terminal.db"


@pytest.fixture
def reg(db_path: Path, clock: FixedClock) -> Iterator[Registry]:
    store = open_store(db_path, clock=clock)
    try:
        yield Registry(store)
    finally:
        store.close()

