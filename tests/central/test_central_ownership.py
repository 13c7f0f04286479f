"""Ownership of stays (issue 14, finding 1), on both backends: a device writes only the stays it
created; another site's device can no longer rewrite, void, add guests to or move them, nor
name one of their events as its target. The owner's own events may arrive in any order."""

from __future__ import annotations

import json
from typing import Any

from central.accounts import principals
from sync.protocol import BatchAnswer, WireEvent
from tests.central.central_helpers import Admin
from tests.central.police_helpers import id_number, logged_in, unique_name
from tests.sync.wire_helpers import EventChain, guest


def results(answer: BatchAnswer) -> list[tuple[str, str | None]]:
    return [(r.status, r.code) for r in answer.results]


def site_in_district(central: Admin, name: str) -> tuple[str, str]:
    site = central.site(name)
    district = "D-" + site
    principals.set_site_district(central.engine, site, district)
    return site, district


def registered(central: Admin, site: str) -> tuple[Any, EventChain, WireEvent, dict[str, Any]]:
    """A device of `site` with one stay delivered: (client, chain, check-in, its guest)."""
    client, chain = central.device(site)
    main = guest(unique_name(), id_number())
    check_in = chain.check_in(room="301", guests=[main])
    assert results(client.send_events([check_in])) == [("accepted", None)]
    return client, chain, check_in, main


def snapshot(central: Admin, stay_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    (stay,) = central.rows("stays", stay_id=stay_id)
    guests = sorted(central.rows("stay_guests", stay_id=stay_id), key=lambda g: g["guest_id"])
    return {k: v for k, v in stay.items() if k != "updated_at"}, guests


def district_officer_sees(central: Admin, district: str, stay_id: str, number: str) -> bool:
    browser, _user = logged_in(central.url, central.engine, "officer", district)
    page = browser.get(f"/stay/{stay_id}", reason="核查 案件 2026-017", csrf=browser.csrf)
    return page.status_code == 200 and number in page.text


def test_another_sites_device_cannot_amend_void_or_take_a_stay(central: Admin) -> None:
    site_a, district_a = site_in_district(central, "甲旅馆")
    _client_a, _chain_a, check_in, main = registered(central, site_a)
    before = snapshot(central, check_in.stay_id)
    client_b, chain_b = central.device(central.site("乙旅馆"))
    stay = check_in.stay_id
    gid = main["guest_id"]
    attack = [
        chain_b.event(
            "amend",
            stay,
            {"field": f"guest.{gid}.name", "old": main["name"], "new": "冒名", "reason": "x"},
            target_event_id=check_in.event_id,
        ),
        chain_b.event(
            "amend",
            stay,
            {"field": f"guest.{gid}.document.number", "old": "", "new": id_number(), "reason": "x"},
            target_event_id=check_in.event_id,
        ),
        chain_b.event("void", stay, {"reason": "x"}, target_event_id=check_in.event_id),
        chain_b.event("check_out", stay, {"guest_ids": [gid]}),
        chain_b.event("add_guest", stay, {"guest": guest(unique_name(), id_number())}),
        chain_b.event(
            "check_in", stay, {"room": "999", "guests": [guest(unique_name(), id_number())]}
        ),
    ]
    own = chain_b.check_in()  # B's own stay, in the same batch: accepted
    # B's own stay, amended with A's check-in as its target: refused too.
    borrowed = chain_b.event(
        "amend",
        own.stay_id,
        {"field": "room", "old": "101", "new": "1", "reason": "x"},
        target_event_id=check_in.event_id,
    )
    answer = client_b.send_events([*attack, own, borrowed])
    assert results(answer) == [("rejected", "foreign_stay")] * 6 + [
        ("accepted", None),
        ("rejected", "foreign_target"),
    ]
    assert {r.field for r in answer.results if r.status == "rejected"} == {
        "stay_id",
        "target_event_id",
    }
    assert all(r.message for r in answer.results if r.status == "rejected")
    assert snapshot(central, stay) == before  # nothing of the attack was folded
    assert [r["status"] for r in central.rows("stays", stay_id=own.stay_id)] == ["in_house"]
    assert district_officer_sees(central, district_a, stay, main["document"]["number"])
    # Refused events are kept whole for an administrator, never in `events`.
    kept = central.rows("foreign_events", device_id=chain_b.device_id)
    assert sorted(r["event_id"] for r in kept) == sorted(e.event_id for e in [*attack, borrowed])
    assert {r["code"] for r in kept} == {"foreign_stay", "foreign_target"}
    assert json.loads(kept[0]["event"])["stay_id"] in (stay, own.stay_id)
    assert {r["device_id"] for r in central.rows("events", stay_id=stay)} == {check_in.device_id}
    # Sent again (the terminal retries what it could not deliver): refused again, kept once.
    again = client_b.send_events(attack[:1])
    assert results(again) == [("rejected", "foreign_stay")]
    assert len(central.rows("foreign_events", event_id=attack[0].event_id)) == 1


def test_a_device_cannot_add_a_guest_to_another_stay_or_move_it_out_of_its_district(
    central: Admin,
) -> None:
    site_b, district_b = site_in_district(central, "乙旅馆")
    _client_b, _chain_b, check_in, main = registered(central, site_b)
    before = snapshot(central, check_in.stay_id)
    site_a, _district_a = site_in_district(central, "甲旅馆")
    client_a, chain_a = central.device(site_a)
    stay = check_in.stay_id
    extra = chain_a.event("add_guest", stay, {"guest": guest(unique_name(), id_number())})
    moved = chain_a.event(
        "amend",
        stay,
        {"field": "room", "old": "301", "new": "1", "reason": "x"},
        target_event_id=check_in.event_id,
    )
    good = chain_a.check_in()
    assert results(client_a.send_events([extra, moved, good])) == [
        ("rejected", "foreign_stay"),
        ("rejected", "foreign_stay"),
        ("accepted", None),
    ]
    after = snapshot(central, stay)
    assert after == before and after[0]["site_code"] == site_b
    assert district_officer_sees(central, district_b, stay, main["document"]["number"])
    # A's own stay naming B's check-in as target: refused, A's stay untouched.
    own_before = snapshot(central, good.stay_id)
    hijack = chain_a.event("void", good.stay_id, {"reason": "x"}, target_event_id=check_in.event_id)
    assert results(client_a.send_events([hijack])) == [("rejected", "foreign_target")]
    assert snapshot(central, good.stay_id) == own_before


def test_the_owners_events_may_arrive_in_any_order_and_the_first_writer_owns(
    central: Admin,
) -> None:
    client_a, chain_a = central.device()
    main = guest(unique_name(), id_number())
    check_in = chain_a.check_in(room="205", guests=[main])
    amend = chain_a.event(
        "amend",
        check_in.stay_id,
        {"field": "room", "old": "205", "new": "206", "reason": "typo"},
        target_event_id=check_in.event_id,
    )
    # The amend arrives first, alone: it claims the stay for A (its target is not known yet).
    assert results(client_a.send_events([amend])) == [("accepted", None)]
    (owner,) = central.rows("stay_owners", stay_id=check_in.stay_id)
    assert (owner["device_id"], owner["site_code"]) == (chain_a.device_id, chain_a.site_code)
    # Another device, knowing the stay id from the incomplete stay, cannot take it.
    client_b, chain_b = central.device()
    squat = chain_b.event(
        "check_in", check_in.stay_id, {"room": "1", "guests": [guest(unique_name(), id_number())]}
    )
    assert results(client_b.send_events([squat])) == [("rejected", "foreign_stay")]
    # The owner's check-in, later, in a batch of its own: accepted and folded.
    assert results(client_a.send_events([check_in])) == [("accepted", None)]
    stay, guests = snapshot(central, check_in.stay_id)
    assert (stay["device_id"], stay["room"], stay["complete"], stay["event_count"]) == (
        chain_a.device_id,
        "206",
        True,
        2,
    )
    assert [g["document_number"] for g in guests] == [main["document"]["number"]]
