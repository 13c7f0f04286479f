"""A stay's page (guests, history, provenance), co-stay, and the CSV export, on the real
server; each act leaves its audit row."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from central import clock
from tests.central.central_helpers import Admin
from tests.central.police_helpers import id_number, logged_in, stay_ids, unique_name
from tests.sync.wire_helpers import EventChain, guest


def at(chain: EventChain, moment: str) -> EventChain:
    chain.wall = datetime.fromisoformat(moment).replace(tzinfo=UTC)
    return chain


def test_stay_page_shows_guests_history_and_provenance(central: Admin) -> None:
    client, chain = central.device()
    name, number = unique_name(), id_number()
    main = guest(name, number)
    first = chain.check_in("301", [main])
    amend = chain.event("amend", first.stay_id, {"field": "room", "old": "301", "new": "302",
                                                 "reason": "登记错房号"},
                        target_event_id=first.event_id, operator="clerk-li")
    void = chain.event("void", first.stay_id, {"reason": "重复登记"},
                       target_event_id=first.event_id, operator="clerk-wang")
    client.send_events([first, amend, void])
    browser, user = logged_in(central.url, central.engine, "officer")
    page = browser.get(f"/stay/{first.stay_id}", reason="案件 11", csrf=browser.csrf)
    assert page.status_code == 200, page.text
    text = page.text
    for expected in (name, number, "302", "已作废", "登记错房号", "clerk-li", "重复登记",
                     "clerk-wang", chain.device_id, clock.show(first.wall_time)):
        assert expected in text, expected
    assert text.count(">通过<") == 3 and "未通过" not in text  # each event's chain verifies
    (row,) = central.rows("audit_log", username=user.username)
    assert (row["action"], row["reason"], row["result_count"]) == ("view", "案件 11", 1)
    assert first.stay_id in row["query"]
    missing = browser.get(f"/stay/{first.stay_id}", csrf=browser.csrf)
    assert missing.status_code == 400 and number not in missing.text


def test_a_broken_chain_is_shown_as_not_verified(central: Admin) -> None:
    client, chain = central.device()
    first = chain.check_in()
    chain.previous = "f" * 64  # the next event does not link to the first
    second = chain.check_out(first)
    client.send_events([first, second])
    browser, _user = logged_in(central.url, central.engine, "officer")
    page = browser.get(f"/stay/{first.stay_id}", reason="链校验 2025-01", csrf=browser.csrf)
    assert page.status_code == 200 and "未通过" in page.text


def test_co_stay_finds_overlapping_guests_of_the_same_room_only(central: Admin) -> None:
    client, chain = central.device()
    target, mate, later, elsewhere = (guest(unique_name(), id_number()) for _ in range(4))
    mate_stay = at(chain, "2025-07-01T12:00").check_in("401", [mate])
    stay = at(chain, "2025-07-02T12:00").check_in("401", [target])
    mate_out = at(chain, "2025-07-03T08:00").check_out(mate_stay)
    stay_out = at(chain, "2025-07-04T08:00").check_out(stay)
    later_stay = at(chain, "2025-07-05T12:00").check_in("401", [later])
    other_room = at(chain, "2025-07-02T13:00").check_in("402", [elsewhere])
    client.send_events([mate_stay, stay, mate_out, stay_out, later_stay, other_room])
    browser, user = logged_in(central.url, central.engine, "officer")
    reply = browser.get(f"/stay/{stay.stay_id}/costay/{target['guest_id']}", reason="同住核查",
                        csrf=browser.csrf)
    assert reply.status_code == 200, reply.text
    assert stay_ids(reply.text) == [mate_stay.stay_id]
    assert mate["name"] in reply.text
    assert later["name"] not in reply.text and elsewhere["name"] not in reply.text
    (row,) = central.rows("audit_log", username=user.username)
    assert (row["action"], row["result_count"]) == ("costay", 1)


def test_csv_export_is_utf8_with_bom_complete_and_audited(central: Admin) -> None:
    client, chain = central.device()
    number = id_number()
    names = [unique_name() for _ in range(3)]
    events = [chain.check_in(str(500 + i), [guest(n, number)]) for i, n in enumerate(names)]
    events.append(chain.check_in("599", [guest("=HYPERLINK(\"x\")", id_number())]))
    client.send_events(events)
    browser, user = logged_in(central.url, central.engine, "officer")
    reply = browser.get("/export.csv", site=chain.site_code, reason="导出案件",
                        csrf=browser.csrf)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/csv")
    assert "attachment" in reply.headers["content-disposition"]
    raw = reply.text.encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:4] == ["入住记录号", "场所名称", "场所编码", "房间"]
    name_at, number_at = rows[0].index("姓名"), rows[0].index("证件号码")
    body = rows[1:]
    assert [r[0] for r in body] == [e.stay_id for e in reversed(events)]  # newest first
    assert {r[name_at] for r in body[1:]} == set(names)
    assert all(r[number_at] == "\t" + number for r in body[1:])  # kept as text by spreadsheets
    assert body[0][name_at].startswith("'=")  # a formula-looking name is neutralised
    (row,) = central.rows("audit_log", username=user.username)
    assert (row["action"], row["reason"], row["result_count"]) == ("export", "导出案件", 4)
    search = browser.search(site=chain.site_code, reason="导出案件")
    assert "/export?" in search.text and "format=csv" in search.text


def test_a_query_past_its_time_bound_is_cut_off(central: Admin) -> None:
    import pytest
    from sqlalchemy import text

    from central.police.query_deadline import QueryTimeoutError, bounded

    slow = ("SELECT pg_sleep(2)" if central.engine.dialect.name == "postgresql" else
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000)"
            " SELECT count(*) FROM n")
    with central.engine.connect() as conn, conn.begin(), pytest.raises(QueryTimeoutError), \
            bounded(conn, 0.05):
        conn.execute(text(slow))


def test_names_are_escaped_in_pages(central: Admin) -> None:
    client, chain = central.device()
    number = id_number()
    first = chain.check_in("1", [guest("<script>alert(1)</script>", number)])
    client.send_events([first])
    browser, _user = logged_in(central.url, central.engine, "officer")
    page = browser.search(document=number, reason="转义 2025-01")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_a_name_longer_than_the_search_key_is_shown_whole(central: Admin) -> None:
    """stay_guests.name keeps 200 characters for the indexes; pages, API rows and CSV show
    the whole name (a synthetic one: a real name this long does not exist)."""
    client, chain = central.device()
    head = unique_name()
    long_name = head + "".join(chr(0x4E00 + (i * 37) % 20000) for i in range(300)) + "𠀋"
    stay = chain.check_in("708", [guest(long_name, id_number())])
    client.send_events([stay])
    browser, _user = logged_in(central.url, central.engine, "officer")
    found = browser.search(name=head, reason="长姓名 2025-01")
    assert stay_ids(found.text) == [stay.stay_id] and long_name in found.text
    page = browser.get(f"/stay/{stay.stay_id}", reason="长姓名 2025-01", csrf=browser.csrf)
    assert page.status_code == 200 and long_name in page.text
    exported = browser.get("/export.csv", name=head, reason="长姓名 2025-01", csrf=browser.csrf)
    rows = list(csv.reader(io.StringIO(exported.text.encode("utf-8").decode("utf-8-sig"))))
    assert rows[1][rows[0].index("姓名")] == long_name
    (row,) = central.rows("stay_guests", stay_id=stay.stay_id)
    assert len(row["name"]) == 200 and row["full_name"] == long_name
