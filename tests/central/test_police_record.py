"""Every field a terminal registered, in words, on the stay page and in the stay API; findings
with the clerk's override reasons; who registered it; amendments old -> new in Chinese."""

from __future__ import annotations

import html
import json
import re

from central.police import record, words
from tests.central.central_helpers import Admin, fetch
from tests.central.police_helpers import api_token, logged_in, make_user, unique_name
from tests.central.record_helpers import GUARDIAN, OVERRIDE_REASON, full_stay


def test_stay_page_shows_every_registered_field_in_words(central: Admin) -> None:
    client, chain = central.device(central.site("演示旅馆"))
    events, guests = full_stay(chain, unique_name("张"), unique_name("李"))
    client.send_events(events)
    browser, _user = logged_in(central.url, central.engine, "officer")
    page = browser.get(f"/stay/{events[0].stay_id}", reason="案件 2026-117", csrf=browser.csrf)
    assert page.status_code == 200, page.text
    assert f"<title>演示旅馆 306 房 {events[0].wall_time[:10]}" in page.text  # not the UUID
    text = html.unescape(re.sub(r"<[^>]+>", "", page.text))
    adult, minor = guests["adult"], guests["minor"]
    for expected in (
        # the adult: sex, birth date, 民族, address, document with validity, issuer
        "男",
        "1985-03-07",
        "回族",
        adult["address"],
        "居民身份证（11）",
        adult["document"]["number"],
        "2015-06-01 至 2035-06-01",
        "广州市公安局天河分局",
        "读卡",
        "13900139001",  # the phone as amended
        # the minor: guardian with relationship and contacted flag, manual entry reason
        "未成年",
        "张大山",
        GUARDIAN["phone"],
        "父母",
        "已联系",
        "卡片损坏无法读取",
        # the foreigner: Latin name, nationality, passport, visa and entry
        "MÜLLER ANNA MARIA",
        "德国（DEU）",
        "普通护照（14）",
        "C01X00T47",
        "V12345678",
        "2027-01-15",
        "2026-11-30",
        "广州白云机场",
        "扫描证件机读码（校验位全部通过）",
        # findings and the clerk's reason
        "证件已于 2021-01-01 过期。",
        "身份证号码校验位错误。",
        OVERRIDE_REASON,
        "拦截",
        "警告",
        # who registered, from which terminal
        "操作员 0007",
        chain.device_id,
        # amendments in words
        "房号：303 → 306",
        "登记错房号",
        f"{adult['name']} 的 电话：13900139000 → 13900139001",
    ):
        assert expected in text, expected
    assert "room：" not in text and "guest." not in text  # no field paths
    assert minor["document"]["number"] in text


def test_stay_api_answers_every_field_with_names(central: Admin) -> None:
    client, chain = central.device(central.site("演示旅馆"))
    events, guests = full_stay(chain, unique_name("王"), unique_name("赵"))
    client.send_events(events)
    user = make_user(central.engine, "officer")
    token = api_token(central.engine, user.username)
    reply = fetch(
        "GET",
        f"{central.url}/api/v1/stay/{events[0].stay_id}",
        params={"reason": "案件 2026-118"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 200, reply.text
    body = json.loads(reply.text)
    assert body["site_name"] == "演示旅馆" and body["room"] == "306"
    assert body["registered_by"] == {"operator": "0007", "device_id": chain.device_id}
    by_id = {g["guest_id"]: g for g in body["guests"]}
    child = by_id[guests["minor"]["guest_id"]]
    assert child["fields"]["guardian"] == GUARDIAN
    assert ("监护人", "张大山，电话 13800138000，父母，已联系") in [tuple(r) for r in child["rows"]]
    out = by_id[guests["foreigner"]["guest_id"]]
    assert out["checked_out_at"] and out["fields"]["document"]["visa"]["visa_number"]
    assert {f["override"] for f in body["findings"]} == {OVERRIDE_REASON, ""}
    amend = [e["amendment"] for e in body["events"] if e["kind"] == "amend"]
    assert amend[0] == {"field": "房号", "old": "303", "new": "306", "reason": "登记错房号"}
    (row,) = central.rows("audit_log", username=user.username, action="api_view")
    assert row["reason"] == "案件 2026-118"


def test_amended_guest_fields_and_words() -> None:
    events = [
        {
            "kind": "check_in",
            "data": {
                "guests": [
                    {
                        "guest_id": "g1",
                        "name": "甲",
                        "sex": "male",
                        "nationality": "CHN",
                        "document": {"type_code": "11", "number": "1"},
                    }
                ]
            },
        },
        {
            "kind": "amend",
            "data": {"field": "guest.g1.document.number", "old": "1", "new": "2", "reason": "r"},
        },
        {
            "kind": "amend",
            "data": {"field": "guest.g1.sex", "old": "male", "new": "female", "reason": "r"},
        },
        {
            "kind": "amend",
            "data": {"field": "guest.nobody.sex", "old": "a", "new": "b", "reason": "r"},
        },
    ]
    guests = record.guests_as_registered(events)
    assert guests["g1"]["document"]["number"] == "2" and guests["g1"]["sex"] == "female"
    assert events[0]["data"]["guests"][0]["document"]["number"] == "1"  # payload untouched
    assert record.amendment(events[2]["data"], {"g1": "甲"}) == {
        "field": "甲 的 性别",
        "old": "男",
        "new": "女",
        "reason": "r",
    }
    assert words.field_name("guest.g1.document.valid_until", {"g1": "甲"}) == "甲 的 证件有效期至"
    assert words.field_value("guest.g1.nationality", "FRA") == "法国"
    assert words.document_type("93") == "93"  # unknown: the code as it is, nothing guessed
    assert words.nation("01") == "汉族"
