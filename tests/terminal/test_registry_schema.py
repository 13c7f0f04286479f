"""The schema itself refuses what would break the log: raw SQL, no Python guard in the way."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from itertools import product
from pathlib import Path

import pytest

from terminal.desk.registry import Registry
from terminal.domain.events import chain_hash
from terminal.store.schema import OUTBOX_STATES, OUTBOX_TRANSITIONS
from tests.terminal.registry_helpers import card_guest

COLUMNS_FOR = {  # what each target state needs to satisfy its CHECK constraint
    "queued": "",
    "sent": ", sent_at = 'T'",
    "acknowledged": ", receipt = 'R1', acknowledged_at = 'T'",
    "rejected": ", reject_code = 'E1', reject_message = 'bad', rejected_at = 'T'",
    "superseded": ", superseded_by = :void",
}


@pytest.fixture
def raw(reg: Registry, db_path: Path) -> Iterator[sqlite3.Connection]:
    stay = reg.check_in(room="101", guests=[card_guest()], operator="C01")
    reg.void(stay.stay_id, reason="误登记", operator="C01")
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        yield conn
    finally:
        conn.close()


def first_event(conn: sqlite3.Connection) -> str:
    return conn.execute("SELECT event_id FROM events WHERE sequence = 1").fetchone()[0]


def void_event(conn: sqlite3.Connection) -> str:
    return conn.execute("SELECT event_id FROM events WHERE kind = 'void'").fetchone()[0]


def refused(conn: sqlite3.Connection, sql: str, params: object = ()) -> str:
    with pytest.raises(sqlite3.IntegrityError) as caught:
        conn.execute(sql, params)
    return str(caught.value)


@pytest.mark.parametrize("sql", [
    "DELETE FROM events",
    "UPDATE events SET operator = 'X'",
    "UPDATE events SET wall_time = '2020-01-01T00:00:00.000000Z'",
    "UPDATE events SET payload = payload || ' '",
    "UPDATE events SET payload_sha256 = chain_sha256",
    "UPDATE events SET payload = NULL, purged_at = 'T', room_typo_guard = 1",
])
def test_events_are_append_only(raw, sql):
    with pytest.raises(sqlite3.DatabaseError):  # the last one: no such column, also refused
        raw.execute(sql)


def test_events_refusals_are_integrity_errors(raw):
    assert "append-only" in refused(raw, "DELETE FROM events")
    assert "only purging" in refused(raw, "UPDATE events SET operator = 'X'")


def test_purging_an_unacknowledged_event_is_refused_an_acknowledged_one_allowed(raw):
    event_id = void_event(raw)  # the void is queued; the check-in was superseded by it
    assert "not acknowledged" in refused(
        raw, "UPDATE events SET payload = NULL, purged_at = 'T' WHERE event_id = ?", (event_id,))
    raw.execute("UPDATE events SET payload = NULL, purged_at = 'T' WHERE event_id = ?",
                (first_event(raw),))  # superseded counts as done with
    raw.execute("UPDATE outbox SET state = 'sent', sent_at = 'T' WHERE event_id = ?", (event_id,))
    raw.execute("UPDATE outbox SET state = 'acknowledged', receipt = 'R', acknowledged_at = 'T' "
                "WHERE event_id = ?", (event_id,))
    raw.execute("UPDATE events SET payload = NULL, purged_at = 'T' WHERE event_id = ?",
                (event_id,))
    assert "only purging" in refused(
        raw, "UPDATE events SET purged_at = 'U' WHERE event_id = ?", (event_id,))


def insert_copy(conn: sqlite3.Connection, sequence: int, prev: str) -> None:
    conn.execute(
        "INSERT INTO events (event_id, device_id, site_code, sequence, kind, stay_id, "
        "wall_time, clock_synchronised, monotonic_ns, boot_id, operator, payload, "
        "payload_sha256, prev_chain_sha256, chain_sha256) SELECT "
        "'01a2225c-0000-7000-8000-000000000000', device_id, site_code, ?, 'check_in', stay_id, "
        "wall_time, 1, 0, boot_id, operator, payload, payload_sha256, ?, ? "
        "FROM events WHERE sequence = 1", (sequence, prev, chain_hash(sequence, prev, "0" * 64)))


def test_sequence_gaps_and_broken_links_cannot_be_inserted(raw):
    head = raw.execute("SELECT chain_sha256 FROM events WHERE sequence = 2").fetchone()[0]
    with pytest.raises(sqlite3.IntegrityError, match="sequence gap"):
        insert_copy(raw, 4, head)
    with pytest.raises(sqlite3.IntegrityError, match="broken chain"):
        insert_copy(raw, 3, "f" * 64)
    insert_copy(raw, 3, head)  # the right sequence and link go in, and get an outbox row
    assert raw.execute("SELECT state FROM outbox WHERE event_id LIKE '01a2225c-0000%'"
                       ).fetchone() == ("queued",)


PATHS = {"queued": [], "sent": ["sent"], "acknowledged": ["sent", "acknowledged"],
         "rejected": ["sent", "rejected"]}


def drive(conn: sqlite3.Connection, event_id: str, steps: list[str]) -> None:
    for step in steps:
        conn.execute(f"UPDATE outbox SET state = '{step}'{COLUMNS_FOR[step]} WHERE event_id = :e",
                     {"e": event_id, "void": None})


# queued -> superseded is legal but only reachable through a void, which supersedes at once:
# test_registry_fold.test_void_supersedes_undelivered_events_and_freezes_the_stay covers it.
@pytest.mark.parametrize(("old", "new"), [
    pair for pair in product(PATHS, OUTBOX_STATES) if pair != ("queued", "superseded")])
def test_outbox_transitions_are_enforced_by_the_schema(reg: Registry, db_path, old, new):
    stay = reg.check_in(room="101", guests=[card_guest()], operator="C01")
    event_id = stay.event_ids[0]
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        void = None
        if new == "superseded":  # move past queued first, or the void supersedes the row itself
            drive(conn, event_id, PATHS[old][:1])
            void = reg.void(stay.stay_id, reason="误登记", operator="C01").event_ids[0]
            drive(conn, event_id, PATHS[old][1:])
        else:
            drive(conn, event_id, PATHS[old])
        sql = f"UPDATE outbox SET state = '{new}'{COLUMNS_FOR[new]} WHERE event_id = :e"
        params = {"e": event_id, "void": void}
        if (old, new) in OUTBOX_TRANSITIONS:
            conn.execute(sql, params)
        else:
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute(sql, params)
    finally:
        conn.close()


def test_outbox_state_columns_and_rows_are_checked(raw):
    event_id = void_event(raw)
    assert "CHECK" in refused(raw, "UPDATE outbox SET state = 'sent' WHERE event_id = ?",
                              (event_id,))
    raw.execute("UPDATE outbox SET state = 'sent', sent_at = 'T' WHERE event_id = ?", (event_id,))
    assert "CHECK" in refused(raw, "UPDATE outbox SET state = 'acknowledged', acknowledged_at = "
                                   "'T', receipt = '' WHERE event_id = ?", (event_id,))
    assert "DELETE refused" in refused(raw, "DELETE FROM outbox")
    assert "starts queued" in refused(
        raw, "INSERT INTO outbox (event_id, state, updated_at) VALUES ('x', 'sent', 'T')")


def test_acknowledged_rows_are_frozen(raw):
    event_id = void_event(raw)
    raw.execute("UPDATE outbox SET state = 'sent', sent_at = 'T' WHERE event_id = ?", (event_id,))
    raw.execute("UPDATE outbox SET state = 'acknowledged', receipt = 'R', acknowledged_at = 'T' "
                "WHERE event_id = ?", (event_id,))
    for change in ("receipt = 'R2'", "attempts = 5", "state = 'queued'"):
        refused(raw, f"UPDATE outbox SET {change} WHERE event_id = ?", (event_id,))


def test_only_a_void_of_the_same_stay_supersedes(reg: Registry, db_path):
    a = reg.check_in(room="101", guests=[card_guest()], operator="C01")
    b = reg.check_in(room="102", guests=[card_guest(serial=5)], operator="C01")
    reg.void(b.stay_id, reason="误登记", operator="C01")
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        void_b = void_event(conn)
        assert "only a void" in refused(
            conn, "UPDATE outbox SET state = 'superseded', superseded_by = ? WHERE event_id = ?",
            (void_b, a.event_ids[0]))
        assert "only a void" in refused(
            conn, "UPDATE outbox SET state = 'superseded', superseded_by = ? WHERE event_id = ?",
            (a.event_ids[0], a.event_ids[0]))
        assert "only a void" in refused(  # a void does not supersede itself
            conn, "UPDATE outbox SET state = 'superseded', superseded_by = ? WHERE event_id = ?",
            (void_b, void_b))
    finally:
        conn.close()
