"""Manual entry of a passport guest (visa fields) and a minor with a guardian, in the browser."""

from __future__ import annotations

import json

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.web.conftest import shoot
from tests.web.desk import Desk
from tests.web.test_web_checkin import _fields


def test_manual_passport_guest_with_visa(page, desk: Desk) -> None:
    page.goto(desk.url + "/manual")
    # The form opens on a passport already: choosing it again still fires `change` and its
    # htmx swap of the fields; under load it landed after the first fill and emptied it.
    with page.expect_response(lambda answer: "/manual/fields" in answer.url):
        page.select_option("select[name=document_type]", "14")
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-settling')")
    page.wait_for_selector("input[name=visa_number]")
    page.fill("input[name=number]", "e12345678")
    page.fill("input[name=surname_en]", "smith")
    page.fill("input[name=given_names_en]", "anna maria")
    page.select_option("select[name=sex]", "female")
    page.fill("input[name=birth_date]", "1990-04-12")
    page.select_option("select[name=nationality]", "GBR")
    page.fill("input[name=valid_until]", "2031-01-01")
    page.select_option("select[name=visa_type]", "L")
    page.fill("input[name=visa_number]", "V1234567")
    page.fill("input[name=visa_stay_until]", "2099-12-31")
    page.fill("input[name=entry_date]", "2026-11-20")
    page.fill("input[name=entry_port]", "广州白云机场")
    page.fill("input[name=reason]", "无身份证（护照）")
    shoot(page, "manual-passport")
    page.click("#manual-add")
    try:  # say where it stood, should the form not go
        page.wait_for_url(desk.url + "/", timeout=20000)
    except PlaywrightTimeoutError as err:
        invalid = page.evaluate("() => [...document.querySelectorAll('#manual :invalid')]"
                                ".map(e => `${e.name}=${e.value}: ${e.validationMessage}`)")
        raise AssertionError(f"still at {page.url}; invalid fields {invalid}; "
                             f"{page.inner_text('main')[:300]}") from err
    guest = page.wait_for_selector(".guest")
    assert "SMITH ANNA MARIA" in guest.inner_text() and "手工录入" in guest.inner_text()
    page.fill("#room", "502")
    page.click("#confirm")
    page.wait_for_selector("#saved")
    payload = json.loads(desk.query("SELECT payload FROM events")[0][0])
    guest_json = payload["data"]["guests"][0] if "data" in payload else payload["guests"][0]
    document = guest_json["document"]
    assert document["source"] == "manual" and document["manual_reason"] == "无身份证（护照）"
    assert document["visa"]["visa_type"] == "L" and document["visa"]["entry_port"] == "广州白云机场"
    assert guest_json["nationality"] == "GBR"


def test_manual_entry_errors_are_in_chinese(page, desk: Desk) -> None:
    page.goto(desk.url + "/manual")
    page.fill("input[name=number]", "X1")
    page.fill("input[name=reason]", "测试")
    page.evaluate("document.querySelector('input[name=birth_date]').removeAttribute('required')")
    page.click("#manual-add")
    assert "出生日期：必填" in page.inner_text("#error")


def test_minor_needs_a_guardian_then_saves(page, desk: Desk) -> None:
    page.goto(desk.url + "/")
    desk.place(fields=_fields(name="小测试", birth="20150601", number="440106201506010012"))
    page.wait_for_selector(".guest.minor")
    assert "未成年" in page.inner_text(".guest")
    page.fill("#room", "208")
    page.click("#confirm")
    page.wait_for_selector(".findings")
    assert "监护人" in page.inner_text("#checkin")
    assert not desk.query("SELECT * FROM events")
    shoot(page, "checkin-minor")
    page.fill("input[name$='.guardian_name']", "测试家长")
    page.fill("input[name$='.guardian_phone']", "13800000000")
    page.select_option("select[name$='.relationship']", "parent")
    page.check("input[name$='.contacted']")
    page.click("#confirm")
    page.wait_for_selector("#saved")
    payload = desk.query("SELECT payload FROM events")[0][0]
    assert "测试家长" in payload and '"contacted": true' in payload.replace('":true', '": true')
