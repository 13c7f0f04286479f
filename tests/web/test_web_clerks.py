"""Clerk accounts in the browser, by touch: the shared PIN becomes the owner's, the owner adds
a clerk with the owner's PIN, the clerk signs in as themself and is the operator of the
check-in; disabled, they cannot sign in and their open page locks."""

from __future__ import annotations

from pathlib import Path

from tests.web.conftest import shoot
from tests.web.desk import Desk, write_settings
from tests.web.touch import Taps


def test_owner_adds_a_clerk_who_registers_as_themself(page, tmp_path: Path) -> None:
    config = write_settings(tmp_path)
    config.write_text(config.read_text().replace("[web]\n", '[web]\nclerk_pin = "4321"\n'))
    desk = Desk(tmp_path, config)  # upgraded from the shared PIN: owner 0000 with it
    try:
        taps = Taps(page)
        page.goto(desk.url + "/")
        page.wait_for_selector("#login")
        taps.sign_in("0000", "4321")
        page.wait_for_selector("#checkin")
        assert page.inner_text("#who") == "0000"
        taps.tap("#tab-clerks")
        page.wait_for_selector("#clerks")
        taps.tap("#staff-no")
        taps.keys("A07", "#clerk-keypad")
        taps.tap("#new-pin")
        taps.keys("5678", "#clerk-keypad")
        taps.tap("#owner-pin")
        taps.keys("1111", "#clerk-keypad")  # a wrong owner PIN adds nobody
        taps.tap("#clerk-add")
        assert "店主密码错误" in page.inner_text("#clerk-error")
        assert desk.query("SELECT count(*) FROM clerks") == [(1,)]
        taps.tap("#new-pin")
        taps.keys("5678", "#clerk-keypad")
        taps.tap("#owner-pin")
        taps.keys("4321", "#clerk-keypad")
        taps.tap("#clerk-add")
        assert "已添加员工 A07" in page.inner_text("#clerk-done")
        shoot(page, "clerks")
        stored = desk.query(
            "SELECT staff_no, role, active, changed_by, pin_hash FROM clerks WHERE staff_no = 'A07'"
        )
        assert stored[0][:4] == ("A07", "clerk", 1, "0000")
        assert stored[0][4].startswith("$argon2id$") and "5678" not in stored[0][4]
        taps.tap("#lock")

        page.wait_for_selector("#login")
        taps.sign_in("A07", "5678")
        page.wait_for_selector("#checkin")
        assert page.query_selector("#tab-clerks") is None  # not the owner
        desk.place(0)
        page.wait_for_selector(".guest")
        taps.keys("A301", "#keypad")  # a room with a letter, by touch
        assert page.input_value("#room") == "A301"
        taps.tap("#confirm")
        page.wait_for_selector("#saved")
        assert desk.query("SELECT operator FROM events") == [("A07",)]

        # The owner disables A07 from another browser; A07's open page locks.
        owner = page.context.browser.new_context(
            viewport={"width": 800, "height": 480}, locale="zh-CN"
        ).new_page()
        try:
            other = Taps(owner)
            owner.goto(desk.url + "/login")
            other.sign_in("0000", "4321")
            owner.wait_for_selector("#checkin")
            owner.goto(desk.url + "/clerks")
            other.tap("tr[data-clerk=A07] .chip")  # the row fills the staff number
            assert owner.input_value("#staff-no") == "A07"
            other.tap("#owner-pin")
            other.keys("4321", "#clerk-keypad")
            other.tap("#clerk-disable")
            assert "已停用员工 A07" in owner.inner_text("#clerk-done")
            assert "已停用" in owner.inner_text("tr[data-clerk=A07]")
        finally:
            owner.context.close()
        desk.place(1)  # the next notice tells A07's stream the session is gone
        page.wait_for_selector("#login", timeout=15000)
        taps.sign_in("A07", "5678")
        page.wait_for_selector("text=工号或密码错误。")
        shoot(page, "login-keypad")
    finally:
        desk.stop()
