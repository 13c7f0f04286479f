"""An undone check-out (`check_out_undone`) on the server, on both backends: folded into the
stay whatever order the events arrive in, named in words on the police stay page, and accepted
only from the stay's owner (central/stays/ownership.py)."""

from __future__ import annotations

import json
from typing import Any

from sync.protocol import BatchAnswer
from tests.central.central_helpers import Admin
from tests.central.feed_helpers import feed_token, pull_all
from tests.central.police_helpers import id_number, logged_in, unique_name
from tests.sync.wire_helpers import guest


def results(answer: BatchAnswer) -> list[tuple[str, str | None]]:
    return [(r.status, r.code) for r in answer.results]


def state(central: Admin, stay_id: str) -> tuple[str, Any, dict[str, Any]]:
    (stay,) = central.rows("stays", stay_id=stay_id)
    guests = {g["guest_id"]: g["checked_out_at"]
              for g in central.rows("stay_guests", stay_id=stay_id)}
    return stay["status"], stay["checked_out_at"], guests


def test_an_undone_check_out_is_in_house_again_in_any_arrival_order(central: Admin) -> None:
    client, chain = central.device()
    main, friend = guest(unique_name(), id_number()), guest(unique_name(), id_number(),
                                                            role="companion")
    check_in = chain.check_in(room="A301", guests=[main, friend])
    stay, m, f = check_in.stay_id, main["guest_id"], friend["guest_id"]
    friend_out = chain.event("check_out", stay, {"guest_ids": [f]})
    all_out = chain.event("check_out", stay, {"guest_ids": [m]})
    undo = chain.event("check_out_undone", stay, {"guest_ids": [m]},
                       target_event_id=all_out.event_id)
    # The undo first, then the rest: folded in sequence order all the same.
    assert results(client.send_events([undo])) == [("accepted", None)]
    assert results(client.send_events([all_out, friend_out, check_in])) == [
        ("accepted", None)] * 3
    status, out_at, guests = state(central, stay)
    assert (status, out_at) == ("in_house", None)
    assert guests == {m: None, f: friend_out.wall_time}  # the friend's own check-out stands
    # The main guest leaves for good later: the stay ends with that check-out's time.
    last = chain.event("check_out", stay, {"guest_ids": [m]})
    client.send_events([last])
    assert state(central, stay)[:2] == ("checked_out", last.wall_time)
    (row,) = central.rows("events", event_id=undo.event_id)
    assert (row["kind"], row["target_event_id"]) == ("check_out_undone", all_out.event_id)
    # The police page says it in words, naming who is back.
    browser, _user = logged_in(central.url, central.engine, "officer")
    page = browser.get(f"/stay/{stay}", reason="案件 16", csrf=browser.csrf)
    assert page.status_code == 200, page.text
    assert "撤销退房" in page.text and f"{main['name']} 重新在住" in page.text


def test_an_undo_of_a_check_out_already_undone_or_not_a_check_out_changes_nothing(
        central: Admin) -> None:
    client, chain = central.device()
    main = guest(unique_name(), id_number())
    check_in = chain.check_in(guests=[main])
    stay = check_in.stay_id
    out = chain.event("check_out", stay, {"guest_ids": [main["guest_id"]]})
    at_check_in = chain.event("check_out_undone", stay, {"guest_ids": []},
                              target_event_id=check_in.event_id)
    client.send_events([check_in, out, at_check_in])
    assert state(central, stay)[:2] == ("checked_out", out.wall_time)


def test_only_the_stays_owner_may_undo_its_check_out(central: Admin) -> None:
    client_a, chain_a = central.device(central.site("甲旅馆"))
    main = guest(unique_name(), id_number())
    check_in = chain_a.check_in(guests=[main])
    out = chain_a.event("check_out", check_in.stay_id, {"guest_ids": [main["guest_id"]]})
    client_a.send_events([check_in, out])
    client_b, chain_b = central.device(central.site("乙旅馆"))
    on_a_stay = chain_b.event("check_out_undone", check_in.stay_id,
                              {"guest_ids": [main["guest_id"]]}, target_event_id=out.event_id)
    own = chain_b.check_in()
    on_own_stay = chain_b.event("check_out_undone", own.stay_id, {"guest_ids": []},
                                target_event_id=out.event_id)
    answer = client_b.send_events([on_a_stay, own, on_own_stay])
    assert results(answer) == [("rejected", "foreign_stay"), ("accepted", None),
                               ("rejected", "foreign_target")]
    assert state(central, check_in.stay_id)[:2] == ("checked_out", out.wall_time)
    # Without a target, the event is not even a valid one.
    bare = chain_a.event("check_out_undone", check_in.stay_id, {"guest_ids": []})
    answer = client_a.send_events([bare])
    assert results(answer) == [("rejected", "invalid_event")]
    assert "target_event_id" in (answer.results[0].field or "")


def test_the_feed_carries_the_undo_with_the_stay_in_house_again(central: Admin) -> None:
    client, chain = central.device()
    check_in = chain.check_in(room="B202")
    out = chain.check_out(check_in)
    undo = chain.event("check_out_undone", check_in.stay_id,
                       {"guest_ids": json.loads(out.payload or "{}")["data"]["guest_ids"]},
                       target_event_id=out.event_id)
    client.send_events([check_in, out, undo])
    taken = [r for r in pull_all(central, feed_token(central))[0]
             if r["stay"]["stay_id"] == check_in.stay_id]
    assert [(r["change"], r["stay"]["status"]) for r in taken] == [
        ("check_in", "in_house"), ("check_out", "checked_out"),
        ("check_out_undone", "in_house")]
    assert taken[2]["event"]["target_event_id"] == out.event_id
    assert taken[2]["stay"]["checked_out_at"] is None
