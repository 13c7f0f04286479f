"""Clerk PIN: sign-in, the staff number on every event, and the idle lock."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.web.conftest import shoot
from tests.web.desk import Desk, write_settings


def test_pin_sign_in_records_the_operator_and_idle_lock(page, tmp_path: Path) -> None:
    config = write_settings(tmp_path)
    config.write_text(config.read_text().replace(
        '[web]\n', '[web]\nclerk_pin = "4321"\nidle_lock_s = 2\n'))
    desk = Desk(tmp_path, config)
    try:
        with requests.Session() as s:  # nothing but the sign-in page without a session
            assert s.get(desk.url + "/inhouse", timeout=5).url.endswith("/login")
        page.clock.install()  # the page's own clock, to be moved on rather than waited for
        page.goto(desk.url + "/")
        page.wait_for_selector("#login")
        shoot(page, "login")
        page.fill("input[name=operator]", "0000")
        page.fill("input[name=pin]", "0000")
        page.click("#login button")
        page.wait_for_selector("text=工号或密码错误。")
        page.fill("input[name=operator]", "0000")
        page.fill("input[name=pin]", "4321")
        page.click("#login button")
        page.wait_for_selector("#checkin")
        desk.place(0)
        page.wait_for_selector(".guest")
        page.fill("#room", "110")
        page.click("#confirm")
        page.wait_for_selector("#saved")
        assert desk.query("SELECT operator FROM events") == [("0000",)]
        # No touch for idle_lock_s: the page locks itself (checked every 5 s). The page's time
        # runs on by 7 s at once, its timers firing as they fall due, instead of 7 s of waiting.
        assert page.query_selector("#login") is None
        page.clock.run_for(7000)
        page.wait_for_selector("#login")
    finally:
        desk.stop()
