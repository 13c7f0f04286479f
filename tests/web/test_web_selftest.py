"""The "设备自检" page in headless Chromium at 800x480: the owner opens it from the tab bar, the
doctor checks run inside the service, a world-readable credential and then a central server
that cannot be reached are shown as faults in Chinese with what to do; a clerk or a LAN browser
cannot open it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from terminal.config import load_config
from terminal.desk.clerks import Accounts
from terminal.doctor import FAIL, WARN, Finding
from terminal.store.database import Store
from terminal.web import selftest
from tests.sync.faultproxy import FaultProxy
from tests.web.conftest import SITE, shoot
from tests.web.desk import Desk, anju, renew, write_settings
from tests.web.test_web_login_throttle import network_address
from tests.web.touch import Taps

PIN = "4321"
CLOSE = {"Connection": "close"}  # no kept-alive socket outlives a test


def row(page: object, check: str) -> tuple[str, str]:
    """(level, text) of one check's row."""
    li = f"li.chk[data-check='{check}']"
    return (page.get_attribute(li, "data-level"), page.inner_text(li))  # type: ignore[attr-defined]


def test_owner_sees_faults_in_chinese_and_checks_again(page, tmp_path: Path, central) -> None:
    # The session's server behind a proxy of this test's own, which stops letting anything
    # through for the second fault: to the terminal, a server that stopped (never reached),
    # without a server of its own started for the test and stopped.
    proxy = FaultProxy(central.port, weights={"pass": 1}, idle_close_s=None)
    desk: Desk | None = None
    try:
        config = write_settings(tmp_path, identity=False)
        token = anju("central", "token", "issue", "--site", SITE, "--db", central.db_url).strip()
        anju(
            "provision",
            "--server",
            proxy.url,
            "--token",
            token,
            "--config",
            str(config),
            "--no-reader",
        )
        config.write_text(config.read_text().replace("[web]\n", f'[web]\nclerk_pin = "{PIN}"\n'))
        config.chmod(0o600)
        credential = tmp_path / "credential.json"
        credential.chmod(0o644)  # the fault: other users can read the device's secret
        secret = json.loads(credential.read_text())["secret"]
        desk = Desk(tmp_path, config)

        taps = Taps(page)
        page.goto(desk.url + "/")
        page.wait_for_selector("#login")
        taps.sign_in("0000", PIN)
        page.wait_for_selector("#checkin")
        taps.tap("#tab-selftest")
        page.wait_for_selector("#selftest-summary")
        assert "发现问题" in page.inner_text("#selftest-summary")
        level, text = row(page, "files")
        assert level == FAIL and "✗" in text and "有私密文件可被其他用户读取" in text
        assert f"sudo chmod 600 {credential}" in text
        level, text = row(page, "server")
        assert level == "ok" and "✓" in text and "中心服务器" in text
        level, text = row(page, "reader")  # the service's live state, the port never opened
        assert level == "ok" and "the terminal service reports" in text
        assert secret not in page.content()

        proxy.weights = {"drop": 1}  # the second fault: the central server is down
        proxy.sever()
        taps.tap("#recheck")
        page.wait_for_selector("li.chk[data-check='server.unreachable']")
        level, text = row(page, "server.unreachable")
        assert level == FAIL and "无法连接中心服务器" in text and "请检查网线" in text
        assert row(page, "files")[0] == FAIL  # still there: nothing fixed
        page.wait_for_function("!document.querySelector('#recheck').disabled")
        shoot(page, "selftest")
        assert secret not in page.content()
        assert not re.search(r"\d{17}[\dX]", page.content())
    finally:
        if desk is not None:
            desk.stop()
        proxy.close()


def test_a_clerk_who_is_not_the_owner_cannot_open_it(tmp_path: Path) -> None:
    config = write_settings(tmp_path)
    with Store.from_config(load_config(config), create=True, migrate=True) as store:
        accounts = Accounts(store)
        accounts.set_owner("0000", PIN)
        accounts.add("A07", "5678", by="0000")
    desk = Desk(tmp_path, config)
    try:
        with (
            signed_in(desk, "0000", PIN) as owner,
            owner.get(desk.url + "/selftest", timeout=10) as opened,
        ):
            assert opened.status_code == 200 and "重新检查" in opened.text
        with signed_in(desk, "A07", "5678") as clerk:
            with clerk.get(desk.url + "/selftest", allow_redirects=False, timeout=10) as refused:
                assert refused.status_code == 303 and refused.headers["Location"] == "/"
            with clerk.post(desk.url + "/selftest/run", allow_redirects=False, timeout=10) as ran:
                assert ran.status_code == 303 and "chk" not in ran.text
            with clerk.get(desk.url + "/", timeout=10) as home:
                assert home.status_code == 200 and 'id="tab-selftest"' not in home.text
    finally:
        desk.stop()


def test_without_accounts_only_the_terminals_own_screen_opens_it(tmp_path: Path) -> None:
    address = network_address()
    if address is None:
        pytest.skip("no network interface besides loopback")
    config = write_settings(tmp_path)
    config.write_text(
        config.read_text().replace(
            "[web]\n", f'[web]\nhost = "0.0.0.0"\nallowed_hosts = ["{address}"]\n'
        )
    )
    desk = Desk(tmp_path, config)
    lan = f"http://{address}:{desk.port}"
    try:
        with requests.get(desk.url + "/selftest", timeout=10, headers=CLOSE) as mine:
            assert mine.status_code == 200 and "设备自检" in mine.text
        with requests.Session() as remote:
            remote.headers.update(CLOSE)
            with remote.get(lan + "/selftest", timeout=10) as refused:
                assert refused.status_code == 403 and "本机屏幕" in refused.text
            with remote.get(lan + "/", timeout=10) as home:
                assert home.status_code == 200 and 'id="tab-selftest"' not in home.text
            renew(remote, lan + "/")
            with remote.post(lan + "/selftest/run", timeout=10) as ran:
                assert ran.status_code == 403 and "chk" not in ran.text
    finally:
        desk.stop()


def signed_in(desk: Desk, staff_no: str, pin: str) -> requests.Session:
    session = desk.client("/login")
    session.headers.update(CLOSE)
    session.cookies.set("anju_lang", "zh_CN")
    with session.post(
        desk.url + "/login",
        data={"operator": staff_no, "pin": pin},
        allow_redirects=False,
        timeout=10,
    ) as answer:
        assert answer.status_code == 303, answer.text
    renew(session, desk.url + "/")  # the token is bound to the clerk's session
    return session


def test_each_fault_gets_chinese_words_and_id_numbers_are_masked() -> None:
    from terminal.web import i18n

    _ = i18n.gettext_for("zh_CN")
    found = [
        Finding("clock.local", "clock", WARN, "clock not synchronised"),
        Finding("server.credential_refused", "refused", FAIL, "refused", "sudo anju provision"),
        Finding("store", "store", FAIL, "fault near 11010519491231002X", "call"),
        Finding("disk", "disk", FAIL, "the disk check did not finish within 2 s", "hangs"),
    ]
    shown = {r.check: r for r in selftest.rows(found, _)}
    assert shown["clock.local"].summary == "本机时间未校准。" and shown["clock.local"].mark == "⚠"
    assert shown["server.credential_refused"].title == "中心服务器"
    assert "重新注册" in shown["server.credential_refused"].advice
    assert "11010519491231002X" not in shown["store"].detail
    assert "11**************2X" in shown["store"].detail
    assert shown["disk"].summary == "此项检查未在限定时间内完成。"
