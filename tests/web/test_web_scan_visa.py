"""A passport then its visa from the (simulated) document reader: the visa lands on the right
guest, a visa of nobody here is said so; taps counted from the scans to "已保存" (touch only:
`Page.fill` / keyboard are never used on the way to saving)."""

from __future__ import annotations

from typing import Any

from tests.web.conftest import shoot
from tests.web.desk import Desk
from tests.web.scan_helpers import PASSPORT, check_in_payload, wait_scanner

# The synthetic guest's visa (MRV-A): same nationality, name and birth date as PASSPORT.
VISA = {**PASSPORT, "document_type": "VL", "issuing_state": "CHN", "document_number": "V12345678",
        "expiry_date": "300101", "optional": "12AB34567"}  # fmt: skip


class Taps:
    """Counts what a clerk's finger does: a click is one tap, a drop-down choice two."""

    def __init__(self, page: Any) -> None:
        self.page, self.count = page, 0

    def click(self, selector: str) -> None:
        self.page.click(selector)
        self.count += 1

    def choose(self, selector: str, value: str) -> None:
        self.page.select_option(selector, value)
        self.count += 2

    def keypad(self, digits: str) -> None:
        for key in digits:
            self.click(f"#keypad .key[data-key='{key}']")


def scan_passport(page: Any, desk: Desk) -> None:
    page.goto(desk.url + "/")
    page.wait_for_selector("#place-card")
    wait_scanner(desk)
    desk.sim("scan", mrz=PASSPORT, format="td3")
    page.wait_for_url("**/manual?scan=*")
    page.wait_for_selector("#scan-verified")


def test_passport_then_visa_fills_the_form_and_is_saved(page, desk: Desk) -> None:
    scan_passport(page, desk)
    desk.sim("scan", mrz=VISA, format="mrva")
    page.wait_for_function("document.querySelector('input[name=visa_number]').value !== ''")
    assert page.input_value("input[name=visa_number]") == "V12345678"
    message = page.inner_text("#scan-result")
    assert "签证已扫描" in message and "MARTIN CLAIRE ANNE" in message
    assert page.input_value("input[name=number]") == "12AB34567"  # the passport stays
    shoot(page, "scan-visa-filled")
    taps = Taps(page)
    taps.choose("select[name=visa_type]", "L")  # on the sticker; the MRZ does not say it
    taps.click("#manual-add")
    page.wait_for_url(desk.url + "/")
    page.wait_for_selector(".guest")
    taps.keypad("608")
    taps.click("#confirm")
    assert "已保存" in page.wait_for_selector("#saved").inner_text()
    print(f"\nTAPS passport+visa scan -> saved: {taps.count}")
    # Visa type (2) + add (1) + room 608 (3) + confirm (1). Typed by hand, the visa number
    # alone (9 characters on a letter keypad) would take more than all of these.
    assert taps.count == 7
    stored = check_in_payload(desk)["guests"][0]["document"]
    assert stored["source"] == "scan" and stored["number"] == "12AB34567"
    assert stored["visa"]["visa_number"] == "V12345678" and stored["visa"]["visa_type"] == "L"


def test_visa_scanned_after_the_guest_was_added_goes_to_that_guest(page, desk: Desk) -> None:
    scan_passport(page, desk)
    page.click("#manual-add")
    page.wait_for_url(desk.url + "/")
    page.wait_for_selector(".guest")
    desk.sim("scan", mrz={**VISA, "optional": ""}, format="mrvb")  # MRV-B: 8 optional
    message = page.wait_for_selector("#scan-result")
    assert "签证号码已填入 MARTIN CLAIRE ANNE" in message.inner_text(), message.inner_text()
    page.click("#keypad .key[data-key='7']")
    page.click("#confirm")
    assert "已保存" in page.wait_for_selector("#saved").inner_text()
    stored = check_in_payload(desk)["guests"][0]["document"]
    assert stored["visa"]["visa_number"] == "V12345678"


def test_visa_of_a_guest_not_here_is_refused_clearly(page, desk: Desk) -> None:
    scan_passport(page, desk)
    desk.sim("scan", mrz={**VISA, "birth_date": "880215"}, format="mrva")  # another person
    message = page.wait_for_selector("#scan-result.bad")
    text = message.inner_text()
    assert "与本次登记的旅客都不符" in text and "未附加" in text and "请先扫描该旅客的护照" in text
    assert page.input_value("input[name=visa_number]") == ""
    shoot(page, "scan-visa-unmatched")


def test_unsupported_document_is_said_so(page, desk: Desk) -> None:
    page.goto(desk.url + "/")
    page.wait_for_selector("#place-card")
    wait_scanner(desk)
    desk.sim("scan", text="IDFRADOE" + "<" * 28 + "\r\n8806923102858CORINNE<<<<<<<6512068F6")
    message = page.wait_for_selector("#scan-result.bad")
    assert "不支持的证件" in message.inner_text()
    assert "/manual" not in page.url  # no failed-passport form
    shoot(page, "scan-unsupported")
