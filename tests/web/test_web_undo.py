"""Undo a check-out by touch in Chromium at 800x480: the in-house page offers 撤销退房 for a
few minutes after a check-out, asks naming the guests and the room, then writes a
`check_out_undone` event (the check-out stays in the record) and the room is in house again."""

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


def test_a_check_out_is_undone_by_touch_naming_guests_and_room(
        page, signed_in: tuple[Desk, Taps]) -> None:
    desk, taps = signed_in
    desk.place(3)
    page.wait_for_selector(".guest")
    taps.keys("A301", "#keypad")
    taps.tap("#confirm")
    page.wait_for_selector("#saved")
    desk.sim("remove")
    taps.tap("nav.tabs a[href='/inhouse']")
    page.wait_for_selector("tr[data-room='A301']")
    assert page.locator("#undo-list").count() == 0  # nothing checked out yet
    taps.tap("tr[data-room='A301'] td:last-child button")
    taps.tap("#out-yes")
    done = page.wait_for_selector("#out-done")
    assert done.inner_text() == "王小明（A301 房）已退房。"
    undo = page.wait_for_selector("#undo-list")
    assert "王小明（A301 房）" in undo.inner_text() and "撤销退房" in undo.inner_text()
    shoot(page, "checkout-undo-offered")
    taps.tap("#undo-list button.undo")
    ask = page.wait_for_selector("#confirm-out")
    assert "撤销 王小明（A301 房）的退房？" in ask.inner_text()
    shoot(page, "checkout-undo-confirm")
    taps.tap("#out-no")  # cancelled: nothing written
    # The cancel re-fetches the list: wait until that swap has landed (the dialog is gone), or
    # the next tap can hit the old list and its dialog be swapped away by the late answer.
    page.wait_for_selector("#confirm-out", state="detached")
    page.wait_for_selector("#undo-list")
    assert desk.query("SELECT count(*) FROM events WHERE kind = 'check_out_undone'") == [(0,)]
    taps.tap("#undo-list button.undo")
    page.wait_for_selector("#confirm-out")
    taps.tap("#undo-yes")
    done = page.wait_for_selector("#out-done")
    assert done.inner_text() == "已撤销退房：王小明 重新在住 A301 房。"
    assert page.locator("tr[data-room='A301']").count() == 1  # in house again
    assert page.locator("#undo-list").count() == 0
    assert "1 位住客" in page.inner_text("#in-house-totals")
    shoot(page, "checkout-undone")
    out_id = desk.query("SELECT event_id FROM events WHERE kind = 'check_out'")[0][0]
    assert desk.query("SELECT operator, kind, target_event_id FROM events ORDER BY seq_id") == [
        ("0000", "check_in", None), ("0000", "check_out", None),
        ("0000", "check_out_undone", out_id)]
    assert desk.query("SELECT status FROM stay_view") == [("in_house",)]
    # The stay's record shows both, in words.
    page.goto(desk.url + "/records")
    taps.tap("tr.link")
    page.wait_for_selector("#stay")
    assert "撤销退房" in page.inner_text("tr[data-event=check_out_undone]")
    assert page.locator("tr[data-event=check_out]").count() == 1


def test_no_undo_when_the_setting_is_zero(page, tmp_path: Path) -> None:
    config = write_settings(tmp_path)
    config.write_text(config.read_text().replace("[web]\n", "[web]\nundo_check_out_minutes = 0\n"))
    desk = Desk(tmp_path, config)
    try:
        desk.place(3)
        page.goto(desk.url + "/")
        page.wait_for_selector(".guest")
        taps = Taps(page)
        taps.keys("A301", "#keypad")
        taps.tap("#confirm")
        page.wait_for_selector("#saved")
        page.goto(desk.url + "/inhouse")
        taps.tap("tr[data-room='A301'] td:last-child button")
        taps.tap("#out-yes")
        page.wait_for_selector("#out-done")
        assert page.locator("#undo-list").count() == 0
        out_id = desk.query("SELECT event_id FROM events WHERE kind = 'check_out'")[0][0]
        # Even sent by hand, it is refused: the window is shut.
        page.evaluate("""id => fetch('/checkout/undo', {method: 'POST', credentials: 'same-origin',
            headers: {'Content-Type': 'application/x-www-form-urlencoded',
                      'X-CSRF-Token': document.querySelector('meta[name=anju-csrf]').content},
            body: 'out_event=' + id + '&confirmed=yes'})""", out_id)
        assert desk.query("SELECT count(*) FROM events WHERE kind = 'check_out_undone'") == [(0,)]
    finally:
        desk.stop()
