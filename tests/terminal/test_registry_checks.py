"""Capture checks: each rule, its stable code, severity, field and both messages."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from drivers.idcard.reading import Sex
from terminal.desk.registry import Registry
from terminal.domain.checks import RULES, Override
from terminal.domain.documents import MANUAL, Document, Visa
from terminal.domain.guests import Guardian, Guest
from terminal.errors import BlockedError
from terminal.store import queries
from terminal.system.ids import new_id
from tests.terminal.registry_helpers import card_guest, id_number, passport_guest


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def event_count(reg: Registry) -> int:
    with reg.store.reader() as conn:
        return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def test_every_rule_has_both_languages_and_a_known_severity():
    for code, (severity, _overridable, en, zh) in RULES.items():
        assert severity in {"block", "warn", "info"}, code
        assert en and zh and en != zh, code


def test_clean_check_in_has_no_findings_and_is_listed(reg):
    saved = reg.check_in(room="101", guests=[card_guest()], operator="C01")
    assert saved.findings == ()
    with reg.store.reader() as conn:
        [row] = queries.list_in_house(conn)
    assert row.stay_id == saved.stay_id and row.room == "101"


def test_expired_document_blocks_and_writes_nothing(reg):
    guest = card_guest(valid_until=date(2024, 12, 31))
    with pytest.raises(BlockedError) as caught:
        reg.check_in(room="101", guests=[guest], operator="C01")
    [finding] = [f for f in caught.value.findings if f.blocks]
    assert finding.code == "document.expired" and finding.overridable
    assert finding.field == f"guests.{guest.guest_id}.document.valid_until"
    assert "2024-12-31" in finding.message and "过期" in finding.message_zh
    assert "过期" in caught.value.message_zh
    assert event_count(reg) == 0


def test_expired_document_passes_with_an_override_and_the_reason_is_kept(reg):
    guest = card_guest(valid_until=date(2024, 12, 31))
    with pytest.raises(BlockedError):  # an override without a reason is no override
        reg.check_in(room="101", guests=[guest], operator="C01",
                     overrides=[Override("document.expired", guest.guest_id, "  ")])
    saved = reg.check_in(room="101", guests=[guest], operator="C01",
                         overrides=[Override("document.expired", guest.guest_id, "派出所已核实")])
    assert codes(saved.findings) == ["document.expired"]
    with reg.store.reader() as conn:
        stay = queries.show(conn, saved.stay_id).stay
    assert stay.overrides == [{"code": "document.expired", "guest_id": guest.guest_id,
                               "reason": "派出所已核实"}]
    assert stay.findings[0]["code"] == "document.expired"


def test_long_term_document_never_expires(reg):
    saved = reg.check_in(room="101", guests=[card_guest(valid_until=None)], operator="C01")
    assert saved.findings == ()


def test_non_overridable_blocks_stay_blocked(reg):
    guest = replace(card_guest(), name="")
    with pytest.raises(BlockedError) as caught:
        reg.check_in(room="101", guests=[guest], operator="C01",
                     overrides=[Override("guest.name_missing", guest.guest_id, "reason")])
    assert "guest.name_missing" in codes(caught.value.findings)


def test_bad_check_digit_on_a_card_is_flagged_not_blocked(reg):
    good = id_number(date(1990, 5, 17))
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    saved = reg.check_in(room="101", guests=[card_guest(number=bad)], operator="C01")
    assert codes(saved.findings) == ["document.id_check_digit"]
    assert all(f.severity == "warn" for f in saved.findings)


def manual_resident(number: str, birth: date, sex: str, reason: str = "卡片消磁") -> Guest:
    return Guest(guest_id=new_id(), role="main", name="王五", sex=sex, birth_date=birth,
                 nationality="CHN", document=Document("11", number, MANUAL, manual_reason=reason))


def test_manual_id_number_inconsistent_with_birth_date_and_sex_is_flagged(reg):
    number = id_number(date(1990, 5, 17), Sex.MALE)
    guest = manual_resident(number, date(1991, 5, 17), "female")
    saved = reg.check_in(room="101", guests=[guest], operator="C01")
    assert codes(saved.findings) == ["document.id_birth_date", "document.id_sex"]


def test_manual_entry_requires_the_reason(reg):
    guest = manual_resident(id_number(date(1990, 5, 17)), date(1990, 5, 17), "male", reason=" ")
    with pytest.raises(BlockedError) as caught:
        reg.check_in(room="101", guests=[guest], operator="C01")
    assert codes(caught.value.findings) == ["document.manual_reason_missing"]


def test_same_document_in_house_warns_with_the_room_until_checked_out(reg):
    first = reg.check_in(room="201", guests=[card_guest()], operator="C01")
    again = reg.check_in(room="305", guests=[card_guest()], operator="C01")
    [finding] = again.findings
    assert finding.code == "document.in_house" and finding.severity == "warn"
    assert "201" in finding.message and "201" in finding.message_zh
    reg.check_out(first.stay_id, operator="C01")
    reg.check_out(again.stay_id, operator="C01")
    assert reg.check_in(room="305", guests=[card_guest()], operator="C01").findings == ()


def test_occupied_room_is_shown_with_the_count(reg):
    reg.check_in(room="101", guests=[card_guest(), card_guest(role="companion", name="李四",
                                                             serial=5)], operator="C01")
    saved = reg.check_in(room="101", guests=[card_guest(name="赵六", serial=9)], operator="C01")
    [finding] = saved.findings
    assert (finding.code, finding.severity, finding.field) == ("room.occupied", "info", "room")
    assert "2" in finding.message


def test_room_and_a_single_main_guest_are_required(reg):
    with pytest.raises(BlockedError) as caught:
        reg.check_in(room=" ", guests=[card_guest(), card_guest(name="李四", serial=3)],
                     operator="C01")
    assert {"room.missing", "party.main_guest"} <= set(codes(caught.value.findings))


def test_foreign_passport_visa_checks_and_unknown_codes(reg):
    ok = reg.check_in(room="101", guests=[passport_guest()], operator="C01")
    assert ok.findings == ()
    no_visa = passport_guest(number="X2", visa=Visa())
    overstay = passport_guest(number="X3", visa=Visa("L", "V1", stay_until=date(2025, 2, 1)))
    saved = reg.check_in(room="102", guests=[no_visa], operator="C01")
    assert codes(saved.findings) == ["visa.missing"]
    saved = reg.check_in(room="103", guests=[overstay], operator="C01")
    assert codes(saved.findings) == ["visa.stay_expired"]
    bad = passport_guest(number="X4", nationality="ZZZ")
    bad = replace(bad, document=replace(bad.document, type_code="77"))
    with pytest.raises(BlockedError) as caught:
        reg.check_in(room="104", guests=[bad], operator="C01")
    assert codes(caught.value.findings) == ["guest.nationality_unknown", "document.type_unknown"]


def child(*, accompanied_by: str | None = None, guardian: Guardian | None = None,
          relationship: str | None = "parent", birth: date = date(2015, 6, 1)) -> Guest:
    return replace(card_guest(role="companion", name="张小明", birth=birth, serial=42),
                   accompanied_by=accompanied_by, relationship=relationship, guardian=guardian)


def test_minor_with_accompanying_adult_is_accepted(reg):
    adult = card_guest()
    saved = reg.check_in(room="101", guests=[adult, child(accompanied_by=adult.guest_id)],
                         operator="C01")
    assert saved.findings == ()


def test_minor_alone_is_blocked(reg):
    alone = replace(child(), role="main")
    with pytest.raises(BlockedError) as caught:
        reg.check_in(room="101", guests=[alone], operator="C01")
    assert codes(caught.value.findings) == ["minor.unaccompanied"]


def test_minor_with_guardian_needs_details_and_contact(reg):
    incomplete = replace(child(guardian=Guardian("", "", "teacher", contacted=False)), role="main")
    with pytest.raises(BlockedError) as caught:
        reg.check_in(room="101", guests=[incomplete], operator="C01")
    assert codes(caught.value.findings) == ["minor.guardian_incomplete",
                                            "minor.guardian_not_contacted"]
    ok = replace(child(guardian=Guardian("张大明", "13800000000", "parent", contacted=True)),
                 role="main")
    assert reg.check_in(room="101", guests=[ok], operator="C01").findings == ()


def test_minor_linked_to_another_minor_or_without_relationship_is_blocked(reg):
    older_child = replace(card_guest(birth=date(2010, 1, 1), serial=8), guardian=Guardian(
        "张大明", "13800000000", "parent", contacted=True))
    linked = child(accompanied_by=older_child.guest_id, relationship=None)
    with pytest.raises(BlockedError) as caught:
        reg.check_in(room="101", guests=[older_child, linked], operator="C01")
    assert codes(caught.value.findings) == ["minor.companion_invalid",
                                            "minor.relationship_missing"]


def test_eighteenth_birthday_is_adult(reg):
    # START is 2025-03-01 in Guangzhou.
    assert reg.check_in(room="101", guests=[card_guest(birth=date(2007, 3, 1))],
                        operator="C01").findings == ()
    with pytest.raises(BlockedError):
        reg.check_in(room="102", guests=[card_guest(birth=date(2007, 3, 2), serial=4)],
                     operator="C01")


def test_minor_added_later_may_link_to_an_adult_already_in_the_stay(reg):
    adult = card_guest()
    saved = reg.check_in(room="101", guests=[adult], operator="C01")
    kid = child(accompanied_by=adult.guest_id)
    assert reg.add_guest(saved.stay_id, kid, operator="C01").findings == ()


def test_names_stay_unicode_end_to_end(reg):
    names = ["𠀾𡈽", "阿卜杜热合曼·买买提", "Müller-Łukasz", "José Ñúñez"]
    saved = reg.check_in(room="101", guests=[
        card_guest(name=names[0]),
        *[card_guest(role="companion", name=n, serial=i + 10) for i, n in enumerate(names[1:])],
    ], operator="C01")
    with reg.store.reader() as conn:
        stay = queries.show(conn, saved.stay_id).stay
        raw = conn.execute("SELECT payload FROM events").fetchone()[0]
    assert sorted(g.guest.name for g in stay.guests.values()) == sorted(names)
    assert all(n in raw for n in names)  # stored as UTF-8, not \\u escapes


@pytest.mark.parametrize(("type_code", "nationality", "number"), [
    ("21", "HKG", "H12345678"),  # Mainland travel permit, Hong Kong resident
    ("22", "TWN", "12345678"),  # Mainland travel permit, Taiwan resident
])
def test_mainland_travel_permits_by_hand(reg, type_code, nationality, number):
    guest = Guest(guest_id=new_id(), role="main", name="陳大文", sex="male",
                  birth_date=date(1980, 1, 2), nationality=nationality,
                  document=Document(type_code, number, MANUAL, manual_reason="无读卡设备",
                                    valid_until=date(2030, 1, 1)))
    saved = reg.check_in(room="101", guests=[guest], operator="C01")
    assert saved.findings == ()
    assert reg.show(saved.stay_id).stay.guests[guest.guest_id].guest.document.type_code == \
        type_code


def test_temporary_id_certificate_is_cross_checked(reg):
    number = id_number(date(1990, 5, 17), Sex.FEMALE)
    guest = Guest(guest_id=new_id(), role="main", name="刘洋", sex="female",
                  birth_date=date(1990, 5, 17), nationality="CHN",
                  document=Document("12", number, MANUAL, manual_reason="身份证丢失，持临时身份证",
                                    valid_until=date(2025, 5, 1)))
    assert reg.check_in(room="101", guests=[guest], operator="C01").findings == ()
    assert [r.stay_id for r in reg.list_in_house()] == [r.stay_id for r in reg.list_stays()]
