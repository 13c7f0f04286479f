"""Void by touch (preset reason, a confirmation naming guests and room, then who and which
room) and the records search (name, room, document number, day) in Chromium at 800x480,
signed in as the owner 0000 on the keypad."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.conftest import shoot
from tests.web.desk import Desk, write_settings
from tests.web.touch import Taps


@pytest.fixture
def signed_in(page, tmp_path: Path) -> Iterator[tuple[Desk, Taps]]:
    config = write_settings(tmp_path)
    config.write_text(config.read_text().replace("[web]\n", '[web]\nclerk_pin = "4321"\n'))
    desk = Desk(tmp_path, config)
    try:
        taps = Taps(page)
        page.goto(desk.url + "/")
        page.wait_for_selector("#login")
        taps.sign_in("0000", "4321")
        page.wait_for_selector("#checkin")
        yield desk, taps
    finally:
        desk.stop()


def _check_in(page, desk: Desk, taps: Taps, index: int, room: str) -> None:
    page.goto(desk.url + "/")
    desk.place(index)
    page.wait_for_selector(".guest")
    taps.keys(room, "#keypad")
    taps.tap("#confirm")
    page.wait_for_selector("#saved")
    desk.sim("remove")


def test_void_asks_naming_guests_and_room(page, signed_in: tuple[Desk, Taps]) -> None:
    desk, taps = signed_in
    _check_in(page, desk, taps, 3, "A301")
    page.goto(desk.url + "/records")
    taps.tap("tr.link")
    page.wait_for_selector("#void")
    taps.tap("#void .chip:has-text('重复登记')")  # a preset reason, one tap
    assert page.input_value("#void-reason") == "重复登记"
    taps.tap("#void-ask")
    ask = page.wait_for_selector("#confirm-void")
    assert "作废 王小明（A301 房）的登记？" in ask.inner_text()
    shoot(page, "void-confirm")
    taps.tap("#void-no")  # cancelled: nothing voided
    page.wait_for_selector("#void")
    assert desk.query("SELECT count(*) FROM events WHERE kind = 'void'") == [(0,)]
    taps.tap("#void .chip:has-text('客人取消入住')")
    taps.tap("#void-ask")
    page.wait_for_selector("#confirm-void")
    taps.tap("#void-yes")
    done = page.wait_for_selector("[role=status]")
    assert done.inner_text() == "已作废 王小明（A301 房）的登记。"
    assert "已作废" in page.inner_text("h2")
    assert "客人取消入住" in page.inner_text("tr[data-event=void]")
    assert desk.query("SELECT operator, kind FROM events ORDER BY seq_id") == [
        ("0000", "check_in"),
        ("0000", "void"),
    ]
    shoot(page, "void-done")


def test_records_search_names_rows_and_amendments(page, signed_in: tuple[Desk, Taps]) -> None:
    desk, taps = signed_in
    for index, room in ((0, "101"), (2, "B202"), (4, "303")):
        _check_in(page, desk, taps, index, room)
    page.goto(desk.url + "/inhouse")  # 李小红 leaves: her name is then found from the events
    page.click("tr[data-room='B202'] td:last-child button")
    page.click("#out-yes")
    page.wait_for_selector("#out-done")
    page.goto(desk.url + "/records")
    rows = page.inner_text("#records tbody")
    assert "测试甲" in rows and "4401**********0016" in rows and "李小红" in rows
    assert "440106196003150016" not in page.content()
    taps.tap("#search-keys")  # the keypad, for room and number
    taps.tap("#search-q")
    taps.keys("B20", "#records-kp")
    taps.tap("#search-go")
    page.wait_for_selector("#search-q[value='B20']")
    assert page.locator("tr.link").count() == 1
    assert "李小红" in page.inner_text("tr.link")
    page.goto(desk.url + "/records?q=" + "0066")  # a document number fragment
    assert page.locator("tr.link").count() == 1 and "测试丙" in page.inner_text("tr.link")
    page.goto(desk.url + "/records?q=小红")  # a name fragment (Unicode)
    assert page.locator("tr.link").count() == 1 and "B202" in page.inner_text("tr.link")
    page.goto(desk.url + "/records?q=%27%20OR%201%3D1%20--")  # only text
    assert page.locator("tr.link").count() == 0
    assert "没有符合条件的登记。" in page.inner_text("#records")
    page.goto(desk.url + "/records")
    taps.tap("#search-today")
    assert page.locator("tr.link").count() == 3
    day = page.input_value("#search-day") or ""
    assert day == ""  # today is the tab; a typed day goes in the field
    taps.tap("#search-keys")
    taps.tap("#search-day")
    taps.keys("19991231", "#records-kp")
    assert page.input_value("#search-day") == "1999-12-31"
    taps.tap("#search-go")
    page.wait_for_selector("text=没有符合条件的登记。")
    page.goto(desk.url + "/records?q=测试甲")
    taps.tap("tr.link")
    page.wait_for_selector("#amend")
    assert page.input_value("#amend-new") == "101"  # the current value, ready to correct
    taps.keys("⌫2", "#amend-kp")  # on the keypad, no keyboard
    taps.tap("#amend .chip:has-text('录入错误')")
    taps.tap("#amend-save")
    page.wait_for_selector("text=更正已保存。")
    change = page.inner_text("tr[data-event=amend]")
    assert "房号：101 → 102" in change and "录入错误" in change
    shoot(page, "stay-amended")
    page.goto(desk.url + "/records")
    shoot(page, "records-names")


def test_receipt_is_shown_as_uploaded_with_its_time(page, signed_in: tuple[Desk, Taps]) -> None:
    import sqlite3

    desk, taps = signed_in
    _check_in(page, desk, taps, 5, "305")
    conn = sqlite3.connect(desk.work / "terminal.db", isolation_level=None)
    try:  # what the uploader writes when the server's receipt comes (terminal/store/outbox.py)
        conn.execute(
            "UPDATE outbox SET state = 'sent', sent_at = '2026-01-01T00:00:00.000Z', attempts = 1"
        )
        conn.execute(
            "UPDATE outbox SET state = 'acknowledged', receipt = 'R44e6f3348e6cfdbd7a', "
            "acknowledged_at = '2026-01-01T02:03:00.000Z'"
        )
    finally:
        conn.close()
    page.goto(desk.url + "/records")
    cell = page.inner_text(".dl-delivered")
    assert "已上传公安" in cell and "01-01 10:03" in cell  # Asia/Shanghai
    taps.tap("tr.link")
    page.wait_for_selector("#stay")
    assert "已上传公安 01-01 10:03" in page.inner_text("tr[data-event=check_in]")
    assert "R44e6" not in page.content()


def test_expected_check_out_by_nights_or_date(page, signed_in: tuple[Desk, Taps]) -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    desk, taps = signed_in
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    desk.place(0)
    page.wait_for_selector(".guest")
    taps.keys("101", "#keypad")
    taps.tap("#expected-row .chip:has-text('2 晚')")  # nights: one tap fills the date
    assert page.input_value("#expected") == (today + timedelta(days=2)).isoformat()
    shoot(page, "checkin-expected")
    taps.tap("#confirm")
    page.wait_for_selector("#saved")
    assert page.input_value("#expected") == ""  # the next party starts empty
    desk.sim("remove")
    desk.place(2)
    page.wait_for_selector(".guest")
    taps.keys("102", "#keypad")
    taps.tap("#expected")
    taps.keys("20270230", "#keypad")  # no such day: the page says so, nothing saved
    taps.tap("#confirm")
    assert "预计退房日期请写成" in page.wait_for_selector("#error").inner_text()
    assert page.input_value("#expected") == "2027-02-30"  # kept to correct
    taps.tap("#expected")
    taps.keys("⌫⌫", "#keypad")
    taps.keys("15", "#keypad")
    taps.tap("#confirm")
    page.wait_for_selector("#saved")
    assert desk.query("SELECT room, expected_check_out FROM stay_view ORDER BY room") == [
        ("101", (today + timedelta(days=2)).isoformat()),
        ("102", "2027-02-15"),
    ]
    page.goto(desk.url + "/inhouse")
    assert "2027-02-15" in page.inner_text("tr[data-room='102']")
