"""The status bar through faults: reader unplugged and back, central server unreachable then
back."""

from __future__ import annotations

import time

from tests.sync.faultproxy import FaultProxy
from tests.web.conftest import provisioned, shoot
from tests.web.desk import Desk


def test_reader_unplugged_and_back(page, desk: Desk) -> None:
    page.goto(desk.url + "/")
    page.wait_for_selector("#statusbar [data-key=reader].st-ok")
    desk.sim("unplug")
    page.wait_for_selector("#statusbar [data-key=reader].st-bad", timeout=15000)
    assert "读卡器未连接" in page.inner_text("#statusbar")
    assert "USB" in page.inner_text("#advice")
    shoot(page, "reader-unplugged")
    desk.sim("replug")
    page.wait_for_selector("#statusbar [data-key=reader].st-ok", timeout=15000)
    desk.place(4)
    guest = page.wait_for_selector(".guest")
    assert "测试丙" in guest.inner_text()


def test_server_unreachable_backlog_grows_then_drains(page, tmp_path, central) -> None:
    # The session's server behind a proxy of this test's own: the proxy drops every connection
    # while the server is "away" (never reached, as a stopped server or a cut link), so no
    # server of its own is started, stopped and started again.
    proxy = FaultProxy(central.port, weights={"pass": 1}, idle_close_s=None)
    desk: Desk | None = None
    try:
        desk = provisioned(tmp_path / "terminal", central, server_url=proxy.url)
        desk.start_uploader()
        page.goto(desk.url + "/")
        page.wait_for_selector("#statusbar [data-key=server].st-ok", timeout=15000)
        proxy.weights = {"drop": 1}
        proxy.sever()
        page.wait_for_selector("#statusbar [data-key=server].st-warn", timeout=15000)
        assert "服务器连不上" in page.inner_text("#statusbar")
        for index, room in ((0, "601"), (2, "602")):
            desk.place(index)
            page.wait_for_selector(".guest")
            page.fill("#room", room)
            page.click("#confirm")
            page.wait_for_selector("#saved")
            desk.sim("remove")
            page.wait_for_function("!document.querySelector('.guest')")
        page.wait_for_selector("#statusbar [data-key=backlog]:has-text('2 条待上传')")
        assert "可继续登记" in page.inner_text("#advice")
        shoot(page, "server-unreachable")
        proxy.weights = {"pass": 1}
        page.wait_for_selector("#statusbar [data-key=backlog]:has-text('已全部上传')",
                               timeout=30000)
        deadline = time.monotonic() + 10
        while desk.query("SELECT count(*) FROM outbox WHERE state != 'acknowledged'")[0][0]:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        if desk is not None:
            desk.stop()
        proxy.close()


def test_store_busy_confirm_waits_and_never_says_saved_before_commit(page, desk: Desk) -> None:
    import sqlite3

    page.goto(desk.url + "/")
    desk.place(1)
    page.wait_for_selector(".guest")
    page.fill("#room", "707")
    # Another process's writer holds the database (a backup, `anju store verify`...).
    blocker = sqlite3.connect(desk.work / "terminal.db", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        page.click("#confirm")
        time.sleep(1.5)
        assert page.query_selector("#saved") is None  # still waiting for the lock
        assert not desk.query("SELECT * FROM events")
        blocker.execute("COMMIT")
    finally:
        blocker.close()
    page.wait_for_selector("#saved")
    assert desk.query("SELECT count(*) FROM events")[0][0] == 1
