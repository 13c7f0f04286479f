"""Police search on the real server, both backends: every filter, newest first, pagination,
district restriction, injection attempts, and the audit row each search leaves."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from central.accounts import principals
from tests.central.central_helpers import Admin, assert_error, fetch
from tests.central.police_helpers import (
    api_token,
    id_number,
    logged_in,
    make_user,
    stay_ids,
    unique_name,
)
from tests.sync.wire_helpers import EventChain, guest


def at(chain: EventChain, day: str) -> EventChain:
    chain.wall = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return chain


class Api:
    def __init__(self, central: Admin, role: str = "officer", district: str | None = None):
        user = make_user(central.engine, role, district)
        self.username = user.username
        self.token = api_token(central.engine, user.username)
        self.url = central.url + "/api/v1/search"

    def search(self, **params: Any) -> dict[str, Any]:
        params.setdefault("reason", "案件 2025-001")
        reply = fetch("GET", self.url, params=params,
                      headers={"Authorization": f"Bearer {self.token}"})
        assert reply.status_code == 200, reply.text
        return reply.json()

    def ids(self, **params: Any) -> list[str]:
        return [s["stay_id"] for s in self.search(**params)["stays"]]


@pytest.fixture
def seeded(central: Admin) -> dict[str, Any]:
    """One site: A stays twice (rooms 201, 202) with a British companion once; C in 201 later."""
    client, chain = central.device()
    site = chain.site_code
    a_name, a_number = unique_name(), id_number()
    surname = "SMITHX" + unique_name()[1:].encode("unicode_escape").decode()[-4:].upper()
    companion = guest(None, "E" + a_number[-8:], role="companion", nationality="GBR",
                      surname_en=surname, given_names_en="JOHN")
    companion["document"]["type_code"] = "14"
    s1 = at(chain, "2025-04-01T10:00").check_in("201", [guest(a_name, a_number), companion])
    s1_out = at(chain, "2025-04-02T09:00").check_out(s1)
    s2 = at(chain, "2025-04-05T10:00").check_in("202", [guest(a_name, a_number)])
    c_name = unique_name()
    s3 = at(chain, "2025-05-01T10:00").check_in("201", [guest(c_name, id_number())])
    client.send_events([s1, s1_out, s2, s3])
    return {"site": site, "s1": s1.stay_id, "s2": s2.stay_id, "s3": s3.stay_id,
            "a_name": a_name, "a_number": a_number, "surname": surname, "c_name": c_name}


def test_each_filter_finds_exactly_its_stays_newest_first(central: Admin,
                                                          seeded: dict[str, Any]) -> None:
    api, d = Api(central), seeded
    assert api.ids(document=d["a_number"]) == [d["s2"], d["s1"]]
    assert api.ids(document=d["a_number"].lower()) == [d["s2"], d["s1"]]  # a trailing x
    assert api.ids(document=d["a_number"][:-1]) == []  # exact, not a prefix
    assert api.ids(name=d["a_name"][1:3]) == [d["s2"], d["s1"]]  # partial Chinese
    assert api.ids(name=d["surname"][2:].lower()) == [d["s1"]]  # partial Latin, any case
    assert api.ids(site=d["site"], **{"from": "2025-04-03", "to": "2025-04-30"}) == [d["s2"]]
    assert api.ids(site=d["site"], **{"from": "2025-04-02"}) == [d["s3"], d["s2"], d["s1"]]
    assert api.ids(site=d["site"], to="2025-04-01") == [d["s1"]]
    assert api.ids(site=d["site"], room="201") == [d["s3"], d["s1"]]
    assert api.ids(site=d["site"], card_type="14") == [d["s1"]]
    assert api.ids(site=d["site"], nationality="gbr") == [d["s1"]]
    (stay,) = api.search(document=d["a_number"], room="202", site=d["site"])["stays"]
    assert stay["room"] == "202" and stay["status"] == "in_house"
    (main,) = stay["guests"]
    assert (main["name"], main["document_number"], main["role"]) == (
        d["a_name"], d["a_number"], "main")


def test_search_is_audited_with_who_reason_query_and_count(central: Admin,
                                                          seeded: dict[str, Any]) -> None:
    api = Api(central)
    api.search(document=seeded["a_number"], reason="案件 7 号")
    (row,) = central.rows("audit_log", username=api.username)
    assert (row["action"], row["reason"], row["role"], row["result_count"]) == (
        "api_search", "案件 7 号", "officer", 2)
    assert json.loads(row["query"])["document"] == seeded["a_number"]


def test_pages_of_results_do_not_overlap_and_run_newest_first(central: Admin) -> None:
    client, chain = central.device()
    at(chain, "2025-06-01T08:00")
    events = chain.stays(25)
    client.send_events(events)
    api = Api(central)
    pages = [api.search(site=chain.site_code, per_page=10, page=p) for p in (1, 2, 3)]
    assert [len(p["stays"]) for p in pages] == [10, 10, 5]
    assert [p["has_more"] for p in pages] == [True, True, False]
    ids = [s["stay_id"] for p in pages for s in p["stays"]]
    assert ids == [e.stay_id for e in reversed(events)]
    times = [s["checked_in_at"] for p in pages for s in p["stays"]]
    assert times == sorted(times, reverse=True)
    browser, _user = logged_in(central.url, central.engine, "officer")
    first = browser.search(site=chain.site_code, reason="巡查 2025-07")
    assert stay_ids(first.text) == ids[:20] and "下一页" in first.text
    second = browser.search(site=chain.site_code, reason="巡查 2025-07", page=2)
    assert stay_ids(second.text) == ids[20:] and "下一页" not in second.text


def test_an_officer_limited_to_a_district_sees_nothing_outside_it(central: Admin) -> None:
    number = id_number()
    inside, outside = central.site("东区客栈"), central.site("西区客栈")
    district = "D-" + inside
    principals.set_site_district(central.engine, inside, district)
    stays = {}
    for site in (inside, outside):
        client, chain = central.device(site)
        stays[site] = chain.check_in(guests=[guest(unique_name(), number)])
        client.send_events([stays[site]])
    limited, everywhere = Api(central, district=district), Api(central)
    assert limited.ids(document=number) == [stays[inside].stay_id]
    assert set(everywhere.ids(document=number)) == {stays[inside].stay_id,
                                                    stays[outside].stay_id}
    browser, _user = logged_in(central.url, central.engine, "officer", district)
    hidden = browser.get(f"/stay/{stays[outside].stay_id}", reason="越区 2507", csrf=browser.csrf)
    assert hidden.status_code == 404 and number not in hidden.text
    shown = browser.get(f"/stay/{stays[inside].stay_id}", reason="本区 2507", csrf=browser.csrf)
    assert shown.status_code == 200 and number in shown.text


@pytest.mark.parametrize("field", ["document", "name", "site", "room", "card_type",
                                   "nationality"])
def test_injection_attempts_return_nothing_or_an_error(central: Admin,
                                                       seeded: dict[str, Any],
                                                       field: str) -> None:
    api = Api(central)
    attempts = ["' OR '1'='1", "x' OR 1=1 --", "%", "_", "%' --", "1; DROP TABLE stays; --",
                "\\", "' UNION SELECT * FROM users --"]
    for attempt in attempts:
        params = {field: attempt}
        if field in ("room", "card_type", "nationality"):
            params["site"] = "no-such-site" if field != "room" else attempt
        reply = fetch("GET", api.url, params={**params, "reason": "注入测试"},
                      headers={"Authorization": f"Bearer {api.token}"})
        assert reply.status_code in (200, 400), reply.text
        if reply.status_code == 200:
            assert reply.json()["stays"] == [], (field, attempt)
    assert api.ids(document=seeded["a_number"])  # and the tables are still there


def test_a_search_without_a_reason_or_a_filter_is_refused_and_not_audited(
        central: Admin) -> None:
    api = Api(central)
    headers = {"Authorization": f"Bearer {api.token}"}
    assert_error(fetch("GET", api.url, params={"document": "x", "reason": " "},
                       headers=headers), 400, "missing_reason")
    assert_error(fetch("GET", api.url, params={"reason": "无条件查询"}, headers=headers),
                 400, "missing_field")
    assert_error(fetch("GET", api.url, params={"reason": "日期查询", "site": "s",
                                               "from": "4/1/2025"}, headers=headers),
                 400, "invalid_field")
    assert central.rows("audit_log", username=api.username) == []
    browser, user = logged_in(central.url, central.engine, "officer")
    page = browser.search(document="110101199003070000")
    assert page.status_code == 400 and "查询事由" in page.text
    assert central.rows("audit_log", username=user.username) == []


def test_dates_are_beijing_days(central: Admin) -> None:
    from central.clock import day_start_utc, show

    assert show("2025-04-01T16:30:00.000000Z") == "2025-04-02 00:30:00"
    assert day_start_utc("2025-04-02") == "2025-04-01T16:00:00.000000Z"
    client, chain = central.device()
    late = at(chain, "2025-04-01T16:30").check_in("1")  # 00:30 on 2 April in Beijing
    client.send_events([late])
    api = Api(central)
    assert api.ids(site=chain.site_code, **{"from": "2025-04-02", "to": "2025-04-02"}) == [
        late.stay_id]
    assert api.ids(site=chain.site_code, to="2025-04-01") == []
    reply = fetch("GET", api.url, params={"site": chain.site_code, "from": "2025-02-30",
                                          "reason": "日期查询"},
                  headers={"Authorization": f"Bearer {api.token}"})
    assert_error(reply, 400, "invalid_field")
