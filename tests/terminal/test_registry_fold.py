"""Folding: check-out variants, amendments, voids, and refusals that write nothing."""

from __future__ import annotations

import pytest

from terminal.desk.registry import Registry
from terminal.errors import InvalidEventError, StayNotFoundError, ValidationError
from terminal.store import queries
from tests.terminal.registry_helpers import card_guest


def show(reg: Registry, stay_id: str):
    with reg.store.reader() as conn:
        return queries.show(conn, stay_id)


def in_house(reg: Registry) -> list[str]:
    with reg.store.reader() as conn:
        return [row.stay_id for row in queries.list_in_house(conn)]


def events(reg: Registry) -> int:
    with reg.store.reader() as conn:
        return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def party(reg: Registry, room: str = "101", serial: int = 1) -> tuple[str, list[str]]:
    guests = [card_guest(serial=serial), card_guest(role="companion", name="李四",
                                                    serial=serial + 1)]
    saved = reg.check_in(room=room, guests=guests, operator="C01")
    return saved.stay_id, [g.guest_id for g in guests]


def test_check_out_one_guest_then_the_rest(reg):
    stay_id, (main, companion) = party(reg)
    reg.check_out(stay_id, operator="C01", guest_ids=[companion])
    detail = show(reg, stay_id)
    assert detail.stay.status == "in_house" and [g.guest.guest_id for g in
                                                 detail.stay.guests_in_house()] == [main]
    reg.check_out(stay_id, operator="C02")
    detail = show(reg, stay_id)
    assert detail.stay.status == "checked_out" and detail.stay.checked_out_at is not None
    assert [d.kind for d in detail.delivery] == ["check_in", "check_out", "check_out"]
    with pytest.raises(InvalidEventError):
        reg.check_out(stay_id, operator="C01")


def test_check_out_room_and_group(reg):
    a, _ = party(reg, "101", 1)
    b, _ = party(reg, "101", 11)
    c, _ = party(reg, "102", 21)
    d, _ = party(reg, "103", 31)
    assert {s.stay_id for s in reg.check_out_room("101", operator="C01")} == {a, b}
    assert in_house(reg) == [c, d]
    with pytest.raises(StayNotFoundError):
        reg.check_out_room("101", operator="C01")
    before = events(reg)
    with pytest.raises(InvalidEventError):  # group with one stay already out: none checked out
        reg.check_out_stays([c, d, a], operator="C01")
    assert events(reg) == before and in_house(reg) == [c, d]
    reg.check_out_stays([c, d], operator="C01")
    assert in_house(reg) == []


def test_amendments_fold_and_keep_history(reg):
    stay_id, (main, _companion) = party(reg)
    reg.amend(stay_id, field="room", old="101", new="108", reason="换房", operator="C01")
    reg.amend(stay_id, field=f"guest.{main}.phone", old=None, new="13900000000",
              reason="补录电话", operator="C01")
    reg.amend(stay_id, field=f"guest.{main}.name", old="张三", new="张叁", reason="录入错误",
              operator="C02")
    stay = show(reg, stay_id).stay
    assert stay.room == "108" and stay.guests[main].guest.name == "张叁"
    assert stay.guests[main].guest.phone == "13900000000"
    first = stay.amendments[0]
    assert (first.field, first.old, first.new) == ("room", "101", "108")
    with reg.store.reader() as conn:
        [row] = queries.list_in_house(conn)
        targets = conn.execute("SELECT target_event_id FROM events WHERE kind = 'amend'").fetchall()
    assert row.room == "108" and "张叁" in {g.name for g in row.guests}
    assert {t[0] for t in targets} == {stay.check_in_event_id}


def test_amend_with_a_stale_old_value_or_unknown_field_is_refused_and_writes_nothing(reg):
    stay_id, (main, _) = party(reg)
    before = events(reg)
    with pytest.raises(InvalidEventError):
        reg.amend(stay_id, field="room", old="999", new="102", reason="x", operator="C01")
    with pytest.raises(InvalidEventError):
        reg.amend(stay_id, field=f"guest.{main}.document.card", old=None, new="x", reason="x",
                  operator="C01")
    with pytest.raises(ValidationError):
        reg.amend(stay_id, field="room", old="101", new="102", reason=" ", operator="C01")
    assert events(reg) == before


def test_void_supersedes_undelivered_events_and_freezes_the_stay(reg):
    stay_id, _ = party(reg)
    reg.amend(stay_id, field="room", old="101", new="102", reason="换房", operator="C01")
    saved = reg.void(stay_id, reason="误登记", operator="C01")
    detail = show(reg, stay_id)
    assert detail.stay.status == "voided" and detail.stay.void_reason == "误登记"
    assert [d.state for d in detail.delivery] == ["superseded", "superseded", "queued"]
    assert in_house(reg) == []
    with pytest.raises(InvalidEventError):
        reg.amend(stay_id, field="room", old="102", new="103", reason="x", operator="C01")
    with pytest.raises(InvalidEventError):
        reg.void(stay_id, reason="again", operator="C01")
    with reg.store.reader() as conn:
        superseded_by = {r[0] for r in conn.execute(
            "SELECT superseded_by FROM outbox WHERE state = 'superseded'")}
    assert superseded_by == {saved.event_ids[0]}


def test_add_guest_to_a_stay_that_is_over_is_refused(reg):
    stay_id, _ = party(reg)
    reg.check_out(stay_id, operator="C01")
    with pytest.raises(InvalidEventError):
        reg.add_guest(stay_id, card_guest(role="companion", serial=77), operator="C01")


def test_a_retried_check_in_with_the_same_stay_id_is_refused(reg):
    saved = reg.check_in(room="101", guests=[card_guest()], operator="C01")
    with pytest.raises(InvalidEventError):
        reg.check_in(room="101", guests=[card_guest(serial=3)], operator="C01",
                     stay_id=saved.stay_id)


def test_operator_is_required(reg):
    with pytest.raises(ValidationError) as caught:
        reg.check_in(room="101", guests=[card_guest()], operator=" ")
    assert caught.value.field == "operator" and caught.value.message_zh


def test_unknown_stay(reg):
    with pytest.raises(StayNotFoundError):
        reg.check_out("01a2225c-40cb-761f-818c-012c59172151", operator="C01")
