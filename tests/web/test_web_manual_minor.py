"""Manual entry of a passport guest (visa fields) and a minor with a guardian, in the browser."""

from __future__ import annotations

import json

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.web.conftest import shoot
from tests.web.desk import Desk
from tests.web.test_web_checkin import _fields
from tests.web.touch import Taps


def manual_passport_by_touch(page, desk: Desk, taps: Taps) -> None:
    """A British passport with a visa typed on the on-screen keypads (no physical key)."""
    taps.tap("nav.tabs a[href='/manual']")
    page.wait_for_selector("input[name=visa_number]")  # the form opens on a passport
    for name, text in (("number", "E12345678"), ("surname_en", "SMITH"),
                       ("given_names_en", "ANNA MARIA"), ("birth_date", "19900412"),
                       ("valid_until", "20310101"), ("visa_number", "V1234567"),
                       ("visa_stay_until", "20991231"), ("entry_date", "20261120")):
        taps.tap(f"input[name={name}]")
        taps.keys(text.replace(" ", "␣"), "#manual-keypad")
    taps.tap("select[name=sex]")  # a native select: one tap to open, one to choose
    page.select_option("select[name=sex]", "female")
    taps.count += 1
    taps.tap("select[name=nationality]")
    page.select_option("select[name=nationality]", "GBR")  # in the common ones, near the top
    taps.count += 1
    taps.tap("select[name=visa_type]")
    page.select_option("select[name=visa_type]", "L")
    taps.count += 1
    taps.tap("#manual-add")


def test_manual_passport_guest_with_visa(page, desk: Desk) -> None:
    page.goto(desk.url + "/")
    taps = Taps(page)
    taps.tap("nav.tabs a[href='/manual']")
    page.wait_for_selector("#manual")
    assert page.input_value("select[name=nationality]") == ""  # no default country
    assert page.query_selector("input[name=reason]:not([type=hidden])") is None  # not asked
    assert page.get_attribute("input[name=birth_date]", "type") is None  # the page's format
    taps.tap("input[name=birth_date]")
    taps.keys("19900412", "#manual-keypad")
    assert page.input_value("input[name=birth_date]") == "1990-04-12"
    taps.tap("#manual-add")  # empty: the page says what is missing, in Chinese
    assert "证件号码：必填" in page.inner_text("#error")
    page.fill("input[type=search][data-filter=nationality]", "英国")
    assert page.input_value("select[name=nationality]") == "GBR"  # searchable
    page.goto(desk.url + "/")
    taps = Taps(page)
    manual_passport_by_touch(page, desk, taps)
    try:  # say where it stood, should the form not go
        page.wait_for_url(desk.url + "/", timeout=20000)
    except PlaywrightTimeoutError as err:
        raise AssertionError(f"still at {page.url}; {page.inner_text('main')[:300]}") from err
    guest = page.wait_for_selector(".guest")
    text = guest.inner_text()
    assert "SMITH ANNA MARIA" in text and "手工录入" in text
    assert "国籍" in text and "英国" in text and "民族" not in text
    assert "住址" not in text and "至 2031-01-01" in text
    assert "L 签证 V1234567" in text and "2026-11-20" in text
    shoot(page, "manual-passport-guest")
    taps.keys("502", "#keypad")
    taps.tap("#confirm")
    page.wait_for_selector("#saved")
    payload = json.loads(desk.query("SELECT payload FROM events")[0][0])
    guest_json = payload["data"]["guests"][0] if "data" in payload else payload["guests"][0]
    document = guest_json["document"]
    assert document["source"] == "manual"
    assert document["manual_reason"] == "无中国居民身份证：外国或出入境证件"
    assert document["visa"]["visa_type"] == "L" and document["visa"]["visa_number"] == "V1234567"
    assert guest_json["nationality"] == "GBR" and guest_json["given_names_en"] == "ANNA MARIA"


def test_manual_entry_errors_are_in_chinese(page, desk: Desk) -> None:
    page.goto(desk.url + "/manual")
    page.select_option("select[name=document_type]", "13")  # a household register
    page.wait_for_selector("input[name=reason]:not([type=hidden])")
    page.fill("input[name=number]", "X1")
    page.fill("input[name=name]", "测试")
    page.click(".chip[data-fill=reason]")  # a preset reason
    assert page.input_value("input[name=reason]") == "证件无法读取"
    page.click("#manual-add")  # no browser bubble (novalidate): the page's own message
    assert "出生日期：必填" in page.inner_text("#error")
    shoot(page, "manual-error")


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
