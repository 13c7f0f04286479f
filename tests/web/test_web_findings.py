"""Findings before saving: each guest's findings appear with the guest (blocking in red, warnings
in amber, the override in place with its preset reasons), so the confirm never surprises; what
the clerk typed survives the next card and a reload."""

from __future__ import annotations

from tests.web.conftest import shoot
from tests.web.desk import Desk
from tests.web.touch import Taps

EXPIRED_BAD_CHECK = {
    "card_type": "resident",
    "name": "过期测试",
    "sex": "1",
    "nation_code": "01",
    "birth_date": "19800101",
    "address": "广东省广州市测试路1号",
    "id_number": "11010519800101003X",
    "authority": "测试公安局",
    "valid_from": "20100101",
    "valid_until": "20200101",
}


def test_findings_show_with_the_guest_before_the_confirm(page, desk: Desk) -> None:
    taps = Taps(page)
    page.goto(desk.url + "/")
    page.wait_for_selector("#place-card")
    desk.place(fields=EXPIRED_BAD_CHECK)
    found = page.wait_for_selector(".guest .guest-findings")
    text = found.inner_text()
    assert "证件已于 2020-01-01 过期" in text and "身份证号码校验位错误" in text
    # The expiry blocks (red; with an untrusted clock it asks to be confirmed, red too), the
    # wrong check character warns (amber): both before any confirm, nothing saved yet.
    red = page.locator(".guest-findings li.f-block, .guest-findings li.f-confirm")
    assert "过期" in red.inner_text()
    assert "校验位" in page.inner_text(".guest-findings li.f-warn:not(.f-confirm)")
    assert (
        page.eval_on_selector(
            ".guest-findings li.f-warn:not(.f-confirm)", "e => getComputedStyle(e).backgroundColor"
        )
        == "rgb(255, 241, 204)"
    )
    assert desk.query("SELECT count(*) FROM events") == [(0,)]
    shoot(page, "checkin-findings")
    taps.keys("A12", "#keypad")
    taps.tap(".guest-findings .chip")  # a preset reason, one tap
    reason = page.input_value(".guest-findings input[name^=override]")
    assert reason == "已当面核实本人，新证办理中"

    desk.sim("remove")
    desk.place(0)  # another card re-renders the party: the reason and the room stay
    page.wait_for_function("document.querySelectorAll('.guest').length === 2")
    assert page.input_value(".guest-findings input[name^=override]") == reason
    page.reload()  # and so does a reload
    page.wait_for_selector(".guest-findings")
    page.wait_for_function("document.querySelectorAll('.guest').length === 2")
    assert page.input_value("#room") == "A12"
    assert page.input_value(".guest-findings input[name^=override]") == reason
    if page.query_selector("#confirm-dates"):  # the box's clock is not synchronised here
        taps.tap("#confirm-dates input")
    taps.tap("#confirm")
    saved = page.wait_for_selector("#saved")
    assert "A12" in saved.inner_text() and "过期测试" in saved.inner_text()
    assert "校验位" not in saved.inner_text()  # shown before, not news in the green box
    assert desk.query("SELECT room FROM stay_view") == [("A12",)]
    page.reload()  # saved: the typed values are forgotten
    page.wait_for_selector("#place-card")
    assert page.input_value("#room") == ""
