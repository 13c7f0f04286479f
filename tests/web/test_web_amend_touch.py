"""Amend by touch in Chromium at 800x480: each field on its keypad (room with letters, the
expected check-out date with its dashes added, the phone in digits), preset reasons, and the
page's own message for a date that does not exist (never the browser's, never a 500)."""

from __future__ import annotations

from tests.web.conftest import shoot
from tests.web.desk import Desk
from tests.web.touch import Taps


def test_amend_room_date_and_phone_by_touch(page, desk: Desk) -> None:
    page.goto(desk.url + "/")
    taps = Taps(page)
    desk.place(3)
    page.wait_for_selector(".guest")
    taps.keys("301", "#keypad")
    taps.tap("#confirm")
    page.wait_for_selector("#saved")
    taps.tap("nav.tabs a[href='/records']")
    taps.tap("tr.link")
    page.wait_for_selector("#amend")
    # The room: letters one tap away (A301).
    taps.keys("⌫⌫⌫", "#amend-kp")
    taps.keys("A301", "#amend-kp")
    taps.tap("#amend .chip:has-text('客人换房')")
    shoot(page, "stay-amend-keypad")
    taps.tap("#amend-save")
    page.wait_for_selector("text=更正已保存。")
    assert "房号：301 → A301" in page.inner_text("tr[data-event=amend]")
    # The expected check-out: a date typed as digits, dashes added; a day that does not exist
    # is refused by the page in Chinese.
    taps.tap("#amend-field")
    page.select_option("#amend-field", "expected_check_out")
    taps.count += 1
    assert page.get_attribute("#amend-new", "data-kp") == "date"
    taps.keys("20270230", "#amend-kp")
    assert page.input_value("#amend-new") == "2027-02-30"
    taps.tap("#amend .chip:has-text('客人延住')")
    taps.tap("#amend-save")
    assert "预计退房日期请写成" in page.wait_for_selector("[role=alert]").inner_text()
    assert desk.query("SELECT count(*) FROM events WHERE kind = 'amend'") == [(1,)]
    taps.tap("#amend-field")
    page.select_option("#amend-field", "expected_check_out")
    taps.count += 1
    taps.keys("20270215", "#amend-kp")
    taps.tap("#amend .chip:has-text('客人延住')")
    taps.tap("#amend-save")
    page.wait_for_selector("text=更正已保存。")
    assert desk.query("SELECT expected_check_out FROM stay_view") == [("2027-02-15",)]
    # The phone: digits.
    gid = desk.query("SELECT guest_id FROM guest_view")[0][0]
    taps.tap("#amend-field")
    page.select_option("#amend-field", f"guest.{gid}.phone")
    taps.count += 1
    assert page.get_attribute("#amend-new", "data-kp") == "digits"
    taps.keys("13800000000", "#amend-kp")
    taps.tap("#amend .chip:has-text('补录电话')")
    taps.tap("#amend-save")
    page.wait_for_selector("text=更正已保存。")
    amends = page.inner_text("#stay")
    assert "13800000000" in amends and "2027-02-15" in amends
    assert desk.query("SELECT count(*) FROM events WHERE kind = 'amend'") == [(3,)]
    shoot(page, "stay-amended-by-touch")
