"""Sign-in throttle over HTTP against a real `anju terminal run`: wrong PINs lead to a wait, the
right PIN is refused during it, the count survives a restart, and the wait ends by itself; wrong
PINs from the network hold the network, never the terminal's own browser.

The waits (1 and 2 s) end by the simulated terminal's clock (`POST /sim/advance`), not by
sleeping through them."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.web.desk import Desk, renew, write_settings

PIN, WRONG = "4321", "97531"


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: Mapping[str, str]  # case-insensitive
    text: str
    cookies: dict[str, str]
    url: str


def get(url: str, *, cookies: dict[str, str] | None = None) -> Answer:
    with requests.Session() as s:
        s.cookies.update(cookies or {})
        with s.get(url, timeout=10) as answer:
            return Answer(answer.status_code, answer.headers.copy(), answer.text,
                          answer.cookies.get_dict(), answer.url)


def sign_in(url: str, pin: str, *, lang: str = "zh_CN",
            headers: dict[str, str] | None = None) -> Answer:
    """POST /login as the sign-in page would (its CSRF cookie and token); the answer copied
    out (a kept Response would keep its socket open)."""
    with requests.Session() as s:
        s.cookies.set("anju_lang", lang)
        renew(s, url + "/login")
        with s.post(url + "/login", data={"operator": "0000", "pin": pin},
                    headers=headers, allow_redirects=False, timeout=10) as answer:
            return Answer(answer.status_code, answer.headers.copy(), answer.text,
                          answer.cookies.get_dict(), answer.url)


def test_wrong_pins_lock_the_sign_in_even_for_the_right_pin_until_the_wait_ends(
        tmp_path: Path) -> None:
    config = write_settings(tmp_path)
    config.write_text(config.read_text().replace(
        "[web]\n", f'[web]\nclerk_pin = "{PIN}"\nlogin_free_attempts = 2\nlogin_delay_s = 1\n'
        "login_delay_cap_s = 2\n"))
    desk = Desk(tmp_path, config)
    try:
        first = sign_in(desk.url, WRONG)
        assert first.status_code == 200 and "工号或密码错误。" in first.text
        second = sign_in(desk.url, WRONG)  # the free attempts are used: a wait of 1 s
        assert second.status_code == 429 and second.headers["Retry-After"] == "1"
        assert "密码错误次数过多，请等待 1 秒后再试。" in second.text
        refused = sign_in(desk.url, PIN)  # the right PIN, during the wait
        assert refused.status_code == 429 and "anju_clerk" not in refused.cookies
        assert "密码错误次数过多" in refused.text
        english = sign_in(desk.url, PIN, lang="en")
        assert english.status_code == 429
        assert "Too many wrong PINs: wait 1 s, then try again." in english.text
        assert "请等待 1 秒" in get(desk.url + "/login").text  # the sign-in page says it too
        locked = get(desk.url + "/inhouse")  # and nothing else opens
        assert locked.url.endswith("/login") and "请等待" in locked.text

        # A restart keeps the count: the next wrong PIN waits twice as long.
        desk.stop()
        # The account's own counter (the kiosk's) counts with the address's.
        assert desk.query("SELECT scope, failures FROM login_throttle ORDER BY scope") == [
            ("clerk:0000@local", 2), ("local", 2)]
        desk = Desk(tmp_path, config)
        desk.sim("advance", seconds=1.1)  # the first wait is over, however fast the restart
        third = sign_in(desk.url, WRONG)
        assert third.status_code == 429 and third.headers["Retry-After"] == "2"
        assert sign_in(desk.url, PIN).status_code == 429

        desk.sim("advance", seconds=2.1)  # the wait is over: the right PIN signs in and
        # clears the count
        signed_in = sign_in(desk.url, PIN)
        assert signed_in.status_code == 303 and "anju_clerk" in signed_in.cookies
        page = get(desk.url + "/", cookies={"anju_clerk": signed_in.cookies["anju_clerk"]})
        assert page.status_code == 200 and 'id="checkin"' in page.text
        assert desk.query("SELECT scope FROM login_throttle") == []
    finally:
        desk.stop()
    log = (tmp_path / "terminal.log").read_text("utf-8")
    assert "sign-in failed from local (3 in a row; waits 2 s)" in log
    # As numbers of their own: the service's random port may hold the digits (…:43217/).
    assert not re.search(rf"(?<!\d)({WRONG}|{PIN})(?!\d)", log)


def network_address() -> str | None:
    """This machine's address on its network (no packet is sent), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if ipaddress.ip_address(address).is_loopback else address


def test_the_network_cannot_lock_the_kiosk_out(tmp_path: Path) -> None:
    address = network_address()
    if address is None:
        pytest.skip("no network interface besides loopback")
    config = write_settings(tmp_path)
    config.write_text(config.read_text().replace(
        "[web]\n", f'[web]\nhost = "0.0.0.0"\nallowed_hosts = ["{address}"]\n'
        f'clerk_pin = "{PIN}"\nlogin_free_attempts = 5\n'
        "login_global_free_attempts = 2\nlogin_delay_s = 30\nlogin_delay_cap_s = 60\n"))
    desk = Desk(tmp_path, config)
    lan = f"http://{address}:{desk.port}"  # the same service, over the network address
    try:
        assert sign_in(lan, WRONG).status_code == 200
        held = sign_in(lan, WRONG)  # the global counter's free attempts are used
        assert held.status_code == 429 and held.headers["Retry-After"] == "30"
        assert sign_in(lan, PIN).status_code == 429
        # Claiming to be the kiosk does not help.
        assert sign_in(lan, PIN, headers={"X-Forwarded-For": "127.0.0.1"}).status_code == 429
        kiosk = sign_in(desk.url, PIN)  # the terminal's own browser signs in all the same
        assert kiosk.status_code == 303 and "anju_clerk" in kiosk.cookies
        assert desk.query("SELECT scope, failures FROM login_throttle ORDER BY scope") == [
            (f"address:{address}", 2), ("clerk:0000", 2), ("global", 2)]
    finally:
        desk.stop()
