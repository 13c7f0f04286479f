"""Undoing a check-out: a new `check_out_undone` event (nothing deleted), folded on the
terminal and in its projection; refused when too late, twice, or after a later change."""

from __future__ import annotations

import sqlite3

import pytest

from terminal.desk.registry import Registry
from terminal.domain.fold import fold
from terminal.errors import InvalidEventError, MigrationError, StayNotFoundError
from terminal.store import event_chain, migrations, stay_views, verify
from terminal.system.clock import FixedClock
from tests.terminal.registry_helpers import card_guest, open_store

MINUTES_10 = 600.0


def party(reg: Registry, room: str = "101", serial: int = 1) -> tuple[str, list[str]]:
    guests = [card_guest(serial=serial), card_guest(role="companion", name="李四",
                                                    serial=serial + 1)]
    saved = reg.check_in(room=room, guests=guests, operator="C01")
    return saved.stay_id, [g.guest_id for g in guests]


def in_house_rooms(reg: Registry) -> list[tuple[str | None, int]]:
    return [(r.room, r.guests_in_house) for r in reg.list_in_house()]


def kinds(reg: Registry, stay_id: str) -> list[str]:
    return [d.kind for d in reg.show(stay_id).delivery]


def test_an_undone_check_out_puts_the_room_in_house_again_and_keeps_both_events(reg):
    stay_id, _ = party(reg)
    out = reg.check_out(stay_id, operator="C01").event_ids[0]
    assert in_house_rooms(reg) == []
    [recent] = reg.recent_check_outs(MINUTES_10)
    assert (recent.event_id, recent.room, recent.names) == (out, "101", ("张三", "李四"))
    undone = reg.undo_check_out(out, operator="C02", within_s=MINUTES_10)
    assert undone.stay_id == stay_id
    assert in_house_rooms(reg) == [("101", 2)]
    stay = reg.show(stay_id).stay
    assert stay.status == "in_house" and stay.checked_out_at is None
    assert all(g.in_house for g in stay.guests.values())
    assert kinds(reg, stay_id) == ["check_in", "check_out", "check_out_undone"]
    assert reg.recent_check_outs(MINUTES_10) == []  # nothing left to undo
    with reg.store.reader() as conn:
        row = conn.execute("SELECT target_event_id, operator FROM events "
                           "WHERE kind = 'check_out_undone'").fetchone()
        assert tuple(row) == (out, "C02")
        assert verify.verify(conn) == []  # chain, projection = fold of every event
    # The guests are back: a second check-out (and its undo) works as the first did.
    again = reg.check_out(stay_id, operator="C01").event_ids[0]
    reg.undo_check_out(again, operator="C01", within_s=MINUTES_10)
    assert in_house_rooms(reg) == [("101", 2)]


def test_undoing_one_guest_of_two_brings_back_that_guest_only(reg):
    stay_id, (main, companion) = party(reg)
    first = reg.check_out(stay_id, operator="C01", guest_ids=[companion]).event_ids[0]
    second = reg.check_out(stay_id, operator="C01").event_ids[0]
    reg.undo_check_out(first, operator="C01", within_s=MINUTES_10)
    stay = reg.show(stay_id).stay
    assert stay.status == "in_house"
    assert [g for g, s in stay.guests.items() if s.in_house] == [companion]
    assert [r.event_id for r in reg.recent_check_outs(MINUTES_10)] == [second]
    reg.undo_check_out(second, operator="C01", within_s=MINUTES_10)
    assert in_house_rooms(reg) == [("101", 2)]
    assert main in reg.show(stay_id).stay.guests


def test_undo_refusals_write_nothing(reg, clock: FixedClock):
    stay_id, _ = party(reg)
    out = reg.check_out(stay_id, operator="C01").event_ids[0]
    with pytest.raises(StayNotFoundError):  # not a check-out
        reg.undo_check_out(reg.show(stay_id).stay.check_in_event_id, operator="C01")
    reg.undo_check_out(out, operator="C01")
    with pytest.raises(InvalidEventError):  # twice
        reg.undo_check_out(out, operator="C01")
    late = reg.check_out(stay_id, operator="C01").event_ids[0]
    clock.monotonic_ns += int(601e9)
    with pytest.raises(InvalidEventError, match="too late"):
        reg.undo_check_out(late, operator="C01", within_s=MINUTES_10)
    assert reg.recent_check_outs(MINUTES_10) == []
    other_boot = reg.check_out(party(reg, "102", 11)[0], operator="C01").event_ids[0]
    clock.boot_id = "after-a-reboot"
    with pytest.raises(InvalidEventError, match="too late"):
        reg.undo_check_out(other_boot, operator="C01", within_s=MINUTES_10)
    assert reg.recent_check_outs(MINUTES_10) == []
    assert kinds(reg, stay_id) == ["check_in", "check_out", "check_out_undone", "check_out"]


def test_a_voided_stay_offers_no_undo(reg):
    stay_id, _ = party(reg)
    out = reg.check_out(stay_id, operator="C01").event_ids[0]
    reg.void(stay_id, reason="登记重复", operator="C01")
    assert reg.recent_check_outs(MINUTES_10) == []
    with pytest.raises(InvalidEventError):
        reg.undo_check_out(out, operator="C01")


def test_the_fold_of_every_event_again_equals_the_projection(reg):
    stay_id, _ = party(reg)
    out = reg.check_out(stay_id, operator="C01").event_ids[0]
    reg.undo_check_out(out, operator="C01")
    with reg.store.reader() as conn:
        stays = fold(event_chain.event_from_row(r) for r in event_chain.iter_rows(conn))
        assert stay_views.rows_for(stays[stay_id]) == stay_views.read(conn, stay_id)


def test_the_schema_refuses_an_undo_without_its_target(reg):
    stay_id, _ = party(reg)
    reg.check_out(stay_id, operator="C01")
    with reg.store.reader() as conn:
        sql = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'events'").fetchone()[0]
    assert "'check_out_undone'" in sql
    conn = sqlite3.connect(reg.store.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute("INSERT INTO events (event_id, device_id, site_code, sequence, kind, "
                         "stay_id, target_event_id, wall_time, clock_synchronised, "
                         "monotonic_ns, boot_id, operator, payload, payload_sha256, "
                         "prev_chain_sha256, chain_sha256) SELECT ?, device_id, site_code, "
                         "sequence + 1, 'check_out_undone', stay_id, NULL, wall_time, 1, 0, "
                         "'b', 'C01', '{}', payload_sha256, chain_sha256, chain_sha256 "
                         "FROM events ORDER BY sequence DESC LIMIT 1", ("0" * 36,))
    finally:
        conn.close()


def test_the_way_back_below_7_is_refused_once_a_check_out_was_undone(db_path, clock):
    store = open_store(db_path, clock=clock)
    reg = Registry(store)
    stay_id, _ = party(reg)
    out = reg.check_out(stay_id, operator="C01").event_ids[0]
    path = reg.store.path
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrations.downgrade(conn, 6) == [7]  # none undone yet: the old CHECKs again
        sql = conn.execute("SELECT sql FROM sqlite_schema WHERE name = 'events'").fetchone()[0]
        assert "check_out_undone" not in sql
        assert migrations.migrate(conn) == [7]
    finally:
        conn.close()
    store = open_store(path, clock=clock)
    try:
        Registry(store).undo_check_out(out, operator="C01")
    finally:
        store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(MigrationError, match="undone check-outs"):
            migrations.downgrade(conn, 6)
        assert migrations.schema_version(conn) == 7
    finally:
        conn.close()
