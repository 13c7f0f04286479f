"""Sign-in throttle over HTTP against a real `anju terminal run`: wrong PINs lead to a wait, the
right PIN is refused during it, the count survives a restart, and the wait ends by itself.

The waits are configured at 1 and 2 s so the test never sleeps long."""

from __future__ import annotations

import time
from pathlib import Path

import requests

from tests.web.desk import Desk, write_settings

PIN, WRONG = "4321", "97531"


def sign_in(desk: Desk, pin: str, *, lang: str = "zh_CN") -> requests.Response:
    with requests.Session() as s:
        s.cookies.set("anju_lang", lang)
        answer = s.post(desk.url + "/login", data={"operator": "clerk-42", "pin": pin},
                        allow_redirects=False, timeout=10)
        answer.close()  # the body is already read; without this the 429s kept their sockets
        return answer


def test_wrong_pins_lock_the_sign_in_even_for_the_right_pin_until_the_wait_ends(
        tmp_path: Path) -> None:
    config = write_settings(tmp_path)
    config.write_text(config.read_text().replace(
        "[web]\n", f'[web]\nclerk_pin = "{PIN}"\nlogin_free_attempts = 2\nlogin_delay_s = 1\n'
        "login_delay_cap_s = 2\n"))
    desk = Desk(tmp_path, config)
    try:
        first = sign_in(desk, WRONG)
        assert first.status_code == 200 and "工号或密码错误。" in first.text
        second = sign_in(desk, WRONG)  # the free attempts are used: a wait of 1 s
        assert second.status_code == 429 and second.headers["Retry-After"] == "1"
        assert "密码错误次数过多，请等待 1 秒后再试。" in second.text
        started = time.monotonic()
        refused = sign_in(desk, PIN)  # the right PIN, during the wait
        assert refused.status_code == 429 and "anju_clerk" not in refused.cookies
        assert "密码错误次数过多" in refused.text
        english = sign_in(desk, PIN, lang="en")
        assert english.status_code == 429
        assert "Too many wrong PINs: wait 1 s, then try again." in english.text
        with requests.Session() as s:  # the sign-in page says it too, and nothing else opens
            assert "请等待 1 秒" in s.get(desk.url + "/login", timeout=5).text
            locked = s.get(desk.url + "/inhouse", timeout=5)
            assert locked.url.endswith("/login") and "请等待" in locked.text

        # A restart keeps the count: the next wrong PIN waits twice as long.
        desk.stop()
        time.sleep(max(0.0, started + 1.1 - time.monotonic()))
        assert desk.query("SELECT scope, failures FROM login_throttle") == [("local", 2)]
        desk = Desk(tmp_path, config)
        third = sign_in(desk, WRONG)
        assert third.status_code == 429 and third.headers["Retry-After"] == "2"
        assert sign_in(desk, PIN).status_code == 429

        time.sleep(2.1)  # the wait is over: the right PIN signs in and clears the count
        signed_in = sign_in(desk, PIN)
        assert signed_in.status_code == 303 and "anju_clerk" in signed_in.cookies
        with requests.Session() as s:
            s.cookies.set("anju_clerk", signed_in.cookies["anju_clerk"])
            page = s.get(desk.url + "/", timeout=5, allow_redirects=False)
            assert page.status_code == 200 and 'id="checkin"' in page.text
        assert desk.query("SELECT scope FROM login_throttle") == []
    finally:
        desk.stop()
    log = (tmp_path / "terminal.log").read_text("utf-8")
    assert "sign-in failed from local (3 in a row; waits 2 s)" in log
    assert WRONG not in log and PIN not in log
