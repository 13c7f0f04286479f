"""In house, check-out (guest, room, group), amend and void, in the browser."""

from __future__ import annotations

from tests.web.conftest import shoot
from tests.web.desk import Desk


def _check_in(page, desk: Desk, index: int, room: str) -> None:
    page.goto(desk.url + "/")
    desk.place(index)
    page.wait_for_selector(".guest")
    page.fill("#room", room)
    page.click("#confirm")
    page.wait_for_selector("#saved")
    desk.sim("remove")


def test_check_out_guest_room_and_group(page, desk: Desk) -> None:
    for index, room in ((0, "101"), (2, "102"), (3, "103"), (4, "104")):
        _check_in(page, desk, index, room)
    page.goto(desk.url + "/inhouse")
    assert page.locator("tr[data-room]").count() == 4
    text = page.inner_text("#inhouse")
    assert "测试甲" in text and "4401**********0016" in text
    assert "440106196003150016" not in page.content()  # lists mask ID numbers
    assert "在住：4 位住客，4 间房" in page.inner_text("#in-house-totals")
    shoot(page, "inhouse")
    page.click("tr[data-room='101'] .g button")  # one guest: first the confirmation
    ask = page.wait_for_selector("#confirm-out")
    assert "测试甲" in ask.inner_text() and "101" in ask.inner_text()
    shoot(page, "checkout-confirm")
    page.click("#out-no")  # cancelled: nobody checked out
    page.wait_for_selector("#confirm-out", state="detached")
    assert desk.query("SELECT count(*) FROM events WHERE kind = 'check_out'") == [(0,)]
    page.click("tr[data-room='101'] .g button")
    page.wait_for_selector("#confirm-out")
    page.click("#out-yes")
    done = page.wait_for_selector("#out-done")
    assert "测试甲" in done.inner_text() and "101 房" in done.inner_text()
    page.click("tr[data-room='102'] td:last-child button")  # the whole room
    assert "102" in page.wait_for_selector("#confirm-out").inner_text()
    page.click("#out-yes")
    page.wait_for_selector("#out-done:has-text('102 房')")
    page.check("tr[data-room='103'] input[type=checkbox]")
    page.check("tr[data-room='104'] input[type=checkbox]")
    page.click("#group-out")
    ask = page.wait_for_selector("#confirm-out").inner_text()
    assert "103" in ask and "104" in ask
    page.click("#out-yes")
    page.wait_for_selector("#out-done:has-text('103、104')")
    assert page.locator("tr[data-room]").count() == 0
    statuses = {r[0] for r in desk.query("SELECT status FROM stay_view")}
    assert statuses == {"checked_out"}


def test_amend_then_void(page, desk: Desk) -> None:
    _check_in(page, desk, 1, "301")
    page.goto(desk.url + "/records")
    page.click("tr.link")
    page.wait_for_selector("#amend")
    page.select_option("#amend select[name=field]", "room")
    page.fill("#amend input[name=new]", "302")
    page.fill("#amend input[name=reason]", "房号输错")
    page.click("#amend-save")
    page.wait_for_selector("text=更正已保存。")
    assert "302" in page.inner_text("h2")
    shoot(page, "stay-detail")
    page.fill("#void input[name=reason]", "客人取消入住")
    page.click("#void-ask")
    page.click("#void-yes")  # the confirmation (tests/web/test_web_void_search.py)
    page.wait_for_selector("text=已作废")
    assert "已作废" in page.inner_text("h2")
    kinds = [r[0] for r in desk.query("SELECT kind FROM events ORDER BY seq_id")]
    assert kinds == ["check_in", "amend", "void"]


def test_refusals_are_shown_in_chinese_not_as_traces(page, desk: Desk) -> None:
    _check_in(page, desk, 1, "301")
    page.goto(desk.url + "/records")
    page.click("tr.link")
    page.wait_for_selector("#void")
    page.click("#void-ask")  # no reason: the page says so, no browser bubble
    page.wait_for_selector("[role=alert]")
    assert "必须填写原因" in page.inner_text("[role=alert]")
    page.goto(desk.url + "/stay/no-such-stay")
    text = page.inner_text("body")
    assert "找不到该入住记录" in text and "Traceback" not in page.content()


def test_rejected_registration_shows_reason_field_and_alarm(page, desk: Desk) -> None:
    import sqlite3

    _check_in(page, desk, 5, "305")
    # What the uploader writes when the server refuses an event (terminal/store/outbox.py).
    conn = sqlite3.connect(desk.work / "terminal.db", isolation_level=None)
    try:
        at = "2026-01-01T00:00:00.000Z"
        conn.execute("UPDATE outbox SET state = 'sent', sent_at = ?, attempts = 1", (at,))
        conn.execute("UPDATE outbox SET state = 'rejected', reject_code = 'invalid_value', "
                     "reject_field = 'guests.0.document.number', reject_message = 'bad number',"
                     " rejected_at = ?", (at,))
    finally:
        conn.close()
    page.goto(desk.url + "/records")
    cell = page.wait_for_selector(".dl-rejected")
    assert "被退回" in cell.inner_text() and "guests.0.document.number" in cell.inner_text()
    bar = page.wait_for_selector("#statusbar [data-key=backlog].st-bad")
    assert "1 条登记被公安服务器退回" in bar.inner_text()
    assert "记录" in page.inner_text("#advice")  # the alarm's advice comes first
    shoot(page, "records-rejected")
