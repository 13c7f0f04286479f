"""`verify` finds every kind of tampering and names the event or stay."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from terminal.desk.registry import Registry
from terminal.store import verify
from tests.terminal.registry_helpers import card_guest


def tamper(db_path: Path, *statements: str) -> None:
    """What someone with the file and the sqlite3 shell could do: drop the guards, then edit."""
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


@pytest.fixture
def three(reg: Registry) -> list[str]:
    ids = []
    for serial, room in enumerate(("101", "102", "103")):
        ids.append(reg.check_in(room=room, guests=[card_guest(serial=serial + 1)],
                                operator="C01").event_ids[0])
    return ids


def faults(reg: Registry) -> list[verify.Fault]:
    with reg.store.reader() as conn:
        return verify.verify(conn)


def test_clean_store_verifies(reg, three):
    assert faults(reg) == []


CASES: dict[str, tuple[list[str], Callable[[list[str]], tuple[str, int | None]]]] = {
    "payload_hash": (["DROP TRIGGER events_only_purge", "DROP TRIGGER events_purge_delivered",
                      "UPDATE events SET payload = replace(payload, '101', '109') "
                      "WHERE sequence = 1"], lambda ids: (ids[0], 1)),
    "header_mismatch": (["DROP TRIGGER events_only_purge",
                         "UPDATE events SET wall_time = '2020-01-01T00:00:00.000000Z' "
                         "WHERE sequence = 2"], lambda ids: (ids[1], 2)),
    "sequence_gap": (["DROP TRIGGER events_no_delete", "DROP TRIGGER outbox_no_delete",
                      "PRAGMA foreign_keys = OFF",
                      "DELETE FROM outbox WHERE event_id = (SELECT event_id FROM events "
                      "WHERE sequence = 2)", "DELETE FROM events WHERE sequence = 2"],
                     lambda ids: (ids[2], 3)),
    "chain_hash": (["DROP TRIGGER events_only_purge",
                    "UPDATE events SET payload_sha256 = chain_sha256 WHERE sequence = 3"],
                   lambda ids: (ids[2], 3)),
}


@pytest.mark.parametrize("code", list(CASES))
def test_tampered_events_are_named(reg, three, db_path, code):
    statements, where = CASES[code]
    tamper(db_path, *statements)
    found = faults(reg)
    event_id, sequence = where(three)
    assert any(f.code == code and f.event_id == event_id and f.sequence == sequence
               for f in found), found
    assert event_id in str(next(f for f in found if f.code == code))


def test_projection_drift_is_found(reg, three, db_path):
    tamper(db_path, "UPDATE stay_view SET room = '999' WHERE room = '102'")
    [fault] = faults(reg)
    assert fault.code == "projection" and fault.stay_id


def test_a_missing_trigger_is_a_schema_fault(reg, three, db_path):
    tamper(db_path, "DROP TRIGGER outbox_transition")
    assert [f.code for f in faults(reg)] == ["schema_trigger"]
