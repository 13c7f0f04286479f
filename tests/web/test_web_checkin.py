"""Check-in in a real browser: card -> guest on the page -> room -> confirm -> store -> server."""

from __future__ import annotations

import sqlite3
import time

from tests.web.conftest import shoot
from tests.web.desk import Desk


def _central_events(db_url: str) -> int:
    conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    try:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]
    finally:
        conn.close()


def test_card_to_saved_to_delivered(page, online_desk: Desk, central) -> None:
    page.goto(online_desk.url + "/")
    page.wait_for_selector("#place-card")
    before = _central_events(central.db_url)
    online_desk.place(3)  # 王小明, resident card
    guest = page.wait_for_selector(".guest")
    assert "王小明" in guest.inner_text()
    assert "540102197511030056" in guest.inner_text()  # in full while registering
    assert "藏" in guest.inner_text()
    shoot(page, "checkin-card")
    for key in "203":
        page.click(f'.key[data-key="{key}"]')
    assert page.input_value("#room") == "203"
    page.click("#confirm")
    saved = page.wait_for_selector("#saved")
    assert "已保存" in saved.inner_text() and "203" in saved.inner_text()
    shoot(page, "checkin-saved")
    rows = online_desk.query("SELECT room, events.operator, status FROM stay_view "
                             "JOIN events ON events.stay_id = stay_view.stay_id")
    assert rows == [("203", "clerk-07", "in_house")]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if online_desk.query("SELECT count(*) FROM outbox WHERE state = 'acknowledged'")[0][0]:
            break
        time.sleep(0.2)
    assert _central_events(central.db_url) == before + 1
    page.goto(online_desk.url + "/records?day=today")
    page.wait_for_selector(".dl-delivered")
    assert "已上传" in page.inner_text("#records")
    shoot(page, "records")


def test_companion_by_second_card_and_english_page(page, desk: Desk) -> None:
    page.goto(desk.url + "/")
    desk.place(0)
    page.wait_for_selector(".guest")
    desk.sim("remove")
    desk.place(2)
    page.wait_for_function("document.querySelectorAll('.guest').length === 2")
    assert "同住人" in page.inner_text("#party")
    page.set_viewport_size({"width": 1024, "height": 600})  # the larger touchscreen
    shoot(page, "checkin-party-1024x600")
    page.set_viewport_size({"width": 800, "height": 480})
    shoot(page, "checkin-party")
    page.fill("#room", "305")
    page.click("#confirm")
    page.wait_for_selector("#saved")
    assert "测试甲、李小红" in page.inner_text("#saved")  # who was saved, by name
    page.click("a.lang")
    page.wait_for_selector("text=Check-in")
    assert "Card reader connected" in page.inner_text("#statusbar")


def test_expired_card_is_shown_red_and_needs_a_reason(page, desk: Desk) -> None:
    page.goto(desk.url + "/")
    desk.place(fields=_fields(name="过期测试", birth="19800101", number="11010519800101003X",
                              valid_from="20100101", valid_until="20200101"))
    page.wait_for_selector(".guest .expired")
    assert "已过期" in page.inner_text(".guest")
    page.fill("#room", "401")
    page.click("#confirm")
    page.wait_for_selector(".findings")
    assert "证件已于 2020-01-01 过期" in page.inner_text(".findings")
    assert not desk.query("SELECT * FROM events")
    page.fill(".findings input", "派出所已核实")
    page.click("#confirm")
    page.wait_for_selector("#saved")
    assert len(desk.query("SELECT * FROM events")) == 1


def _fields(*, name: str, birth: str, number: str, valid_from: str = "20200101",
            valid_until: str = "20400101", sex: str = "1") -> dict[str, str]:
    return {"card_type": "resident", "name": name, "sex": sex, "nation_code": "01",
            "birth_date": birth,
            "address": "广东省广州市测试路1号", "id_number": number, "authority": "测试公安局",
            "valid_from": valid_from, "valid_until": valid_until}


def test_card_placed_on_another_screen_brings_the_clerk_to_check_in(page, desk: Desk) -> None:
    page.goto(desk.url + "/inhouse")
    page.wait_for_selector("#inhouse")
    page.wait_for_function("window.anju && window.anju.streamOpen")  # subscribed to notices
    desk.place(6)
    page.wait_for_url(desk.url + "/")
    assert "陈测试" in page.wait_for_selector(".guest").inner_text()
    assert "港澳台居民居住证" in page.inner_text(".guest")
