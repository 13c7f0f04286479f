"""Words, not codes, on the search and audit pages; reasons that mean something."""

from __future__ import annotations

import html
import re

import pytest

from central.accounts.audit import require_reason
from central.accounts.reasons import ReasonRule
from central.clock import BEIJING
from central.errors import BadRequestError
from central.settings import Settings
from tests.central.central_helpers import Admin
from tests.central.police_helpers import id_number, logged_in, unique_name
from tests.central.record_helpers import full_stay
from tests.sync.wire_helpers import guest


def _cells(page: str, css: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", c))
        for c in re.findall(rf'<td class="{css}">(.*?)</td>', page, re.S)
    ]


def test_a_placeholder_reason_is_refused_by_the_rule() -> None:
    with pytest.raises(BadRequestError) as refused:
        require_reason("核查")
    assert refused.value.code == "weak_reason"
    assert require_reason("  案件  2026-001 ") == "案件 2026-001"
    strict = ReasonRule(4, r"[A-Z]\d{4}-\d+")
    with pytest.raises(BadRequestError):
        require_reason("协查通报核对", strict)
    assert require_reason("协查 A2026-17", strict) == "协查 A2026-17"
    with pytest.raises(ValueError):
        Settings(reason_pattern="[")
    with pytest.raises(ValueError):
        Settings(reason_min_chars=0)


def test_search_refuses_hecha_and_the_audit_page_shows_reasons_in_words(central: Admin) -> None:
    client, chain = central.device(central.site("演示旅馆"))
    events, guests = full_stay(chain, unique_name("张"), unique_name("李"))
    client.send_events(events)
    number = guests["adult"]["document"]["number"]
    browser, officer = logged_in(central.url, central.engine, "officer")
    refused = browser.search(document=number, reason="核查")
    assert refused.status_code == 400 and "查询事由过于简单" in refused.text
    assert number not in refused.text.replace(f'value="{number}"', "")
    found = browser.search(document=number, reason="案件 2026-131")
    assert found.status_code == 200
    assert "演示旅馆" in found.text and "居民身份证" in found.text and "中国" in found.text
    browser.get(f"/stay/{events[0].stay_id}", reason="案件 2026-132", csrf=browser.csrf)
    supervisor, _ = logged_in(central.url, central.engine, "supervisor")
    page = supervisor.get("/audit", user=officer.username)
    assert page.status_code == 200
    assert _cells(page.text, "reason") == ["案件 2026-132", "案件 2026-131"]  # newest first
    what = _cells(page.text, "what")
    stay_title = f"演示旅馆 306 房 {events[0].wall_time[:10]}"
    assert what[0] == f"住宿记录 {stay_title}"
    assert what[1] == f"证件号码 {number}"
    assert "查看住宿详情" in page.text and "民警" in page.text
    assert events[0].stay_id not in page.text and "{" not in "".join(what)  # no UUID, no JSON
    only_views = supervisor.get("/audit", user=officer.username, action="view")
    assert _cells(only_views.text, "reason") == ["案件 2026-132"]
    by_reason = supervisor.get("/audit", user=officer.username, reason="2026-131")
    assert _cells(by_reason.text, "reason") == ["案件 2026-131"]
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).astimezone(BEIJING).date()
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert (
        len(
            _cells(
                supervisor.get(
                    "/audit",
                    user=officer.username,
                    **{"from": today.isoformat(), "to": today.isoformat()},
                ).text,
                "reason",
            )
        )
        == 2
    )
    assert (
        _cells(supervisor.get("/audit", user=officer.username, **{"from": tomorrow}).text, "reason")
        == []
    )


def test_the_search_form_offers_names_not_codes(central: Admin) -> None:
    site = central.site("演示旅馆")
    client, chain = central.device(site)
    client.send_events([chain.check_in("1", [guest(unique_name(), id_number())])])
    browser, _user = logged_in(central.url, central.engine, "officer")
    form = browser.get("/search").text
    assert '<select name="card_type">' in form and '<select name="nationality">' in form
    assert '<option value="11">居民身份证（11）</option>' in form
    assert '<option value="DEU">德国（DEU）</option>' in form
    assert f'<option value="{site}">演示旅馆（{site}）</option>' in form
    assert 'placeholder="11"' not in form and 'placeholder="CHN"' not in form
    chosen = browser.search(site=site, card_type="11", nationality="CHN", reason="案件 2026-133")
    assert '<option value="11" selected>' in chosen.text
