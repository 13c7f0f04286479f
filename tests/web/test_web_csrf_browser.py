"""Issue 14, finding 9, in Chromium: the page works end to end with its CSRF token (htmx
header, plain form field, language switch), a hostile page open in the same browser cannot
post to it or read it, and after a restart the open page carries on without a reload."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.central.serverproc import free_port
from tests.web.conftest import shoot
from tests.web.desk import Desk, write_settings

FULL = "440106196003150016"  # card 0 of the simulator (synthetic)

# Everything a page on another origin can try without the token. It is served from another
# port of 127.0.0.1: the same cookie site, so the browser sends the desk's SameSite cookies.
HOSTILE = """<!doctype html><html><body>
<form id="f" method="post" action="{desk}/party/clear" target="sink">
  <input name="csrf_token" value="guessed"></form>
<iframe name="sink" onload="window.framed = (window.framed || 0) + 1"></iframe>
<script>
const post = (path, body) => fetch("{desk}" + path, {{method: "POST", mode: "no-cors",
  credentials: "include", body: body}}).catch(() => null);
Promise.allSettled([
  post("/party/clear"),
  post("/checkin", new URLSearchParams({{room: "666", draft_version: "1"}})),
  post("/sim/remove", "{{}}"),
  fetch("{desk}/party", {{credentials: "include"}}).then(r => r.text())
    .then(t => {{ window.leak = t; }}, () => {{ window.leak = null; }}),
]).then(() => {{ document.getElementById("f").submit(); window.done = true; }});
</script></body></html>"""


@contextmanager
def hostile_site(work: Path, desk: Desk) -> Iterator[str]:
    """Another service on 127.0.0.1 serving HOSTILE (a real server: Chromium does not let a
    page it cannot place on the local network reach 127.0.0.1 at all, which would prove
    nothing about the desk)."""
    site = work / "hostile"
    site.mkdir()
    (site / "index.html").write_text(HOSTILE.format(desk=desk.url), "utf-8")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "http.server",
            str(port),
            "--bind",
            "127.0.0.1",
            "--directory",
            str(site),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 10
        while True:
            try:
                with requests.get(url, timeout=1):
                    break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "the hostile site did not start"
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(10)


def test_the_page_works_with_its_token_and_a_hostile_page_gets_nothing(
    page, desk: Desk, tmp_path: Path
) -> None:
    page.goto(desk.url + "/")
    desk.place(0)
    page.wait_for_selector(".guest")

    hostile = page.context.new_page()
    with hostile_site(tmp_path, desk) as url:
        hostile.goto(url)
        hostile.wait_for_function("window.done === true && window.framed >= 2")
    assert hostile.evaluate("window.leak") is None  # the party cannot be read cross-origin
    hostile.close()
    assert FULL in page.inner_text("#party")  # nothing cleared, nothing removed
    assert desk.query("SELECT count(*) FROM events") == [(0,)]
    log = desk.service.log.read_text("utf-8")
    assert "front desk refused POST '/party/clear': origin check failed" in log

    # The page itself: confirm (htmx, token in a header), amend (plain form, token in a field).
    page.fill("#room", "208")
    page.click("#confirm")
    page.wait_for_selector("#saved")
    page.goto(desk.url + "/records")
    page.click("tr.link")
    page.select_option("#amend select[name=field]", "room")
    page.fill("#amend input[name=new]", "209")
    page.fill("#amend input[name=reason]", "房号输错")
    page.click("#amend-save")
    page.wait_for_selector("text=更正已保存。")
    page.goto(desk.url + "/records?day=today")
    page.click("nav a.lang")  # the language switch comes back to this very page
    page.wait_for_selector("html[lang=en]")
    assert page.url == desk.url + "/records?day=today" and "209" in page.inner_text("main")
    kinds = [r[0] for r in desk.query("SELECT kind FROM events ORDER BY seq_id")]
    assert kinds == ["check_in", "amend"]

    # A stale token (say, a page kept from before a restart whose stream never came back):
    # the write is refused and the page says so in the scan line, in the page's language.
    page.goto(desk.url + "/lang/zh_CN")
    desk.place(2)
    page.wait_for_selector(".guest")
    page.evaluate(
        "document.body.setAttribute('hx-headers', JSON.stringify({'X-CSRF-Token': 'stale'}))"
    )
    page.click(".guest .remove")
    page.wait_for_selector("#scanmsg >> text=页面已过期，请刷新页面后再试。")
    assert page.locator(".guest").count() == 1  # not removed
    shoot(page, "refused-stale-token")


def test_after_a_restart_the_open_page_registers_without_a_reload(page, tmp_path: Path) -> None:
    config = write_settings(tmp_path)
    desk = Desk(tmp_path, config)
    try:
        page.goto(desk.url + "/")
        page.wait_for_function("window.anju && window.anju.lastDraft")  # the stream is open
        before = page.get_attribute("meta[name=anju-csrf]", "content")
        desk.stop()
        desk = Desk(tmp_path, config, port=desk.port)
        # The stream reconnects by itself and hands the page the new process's token.
        page.wait_for_function(
            f"document.querySelector('meta[name=anju-csrf]').content !== '{before}'"
            " && document.body.getAttribute('hx-headers').includes("
            "document.querySelector('meta[name=anju-csrf]').content)",
            timeout=15000,
        )
        desk.place(0)
        page.wait_for_selector(".guest")
        page.fill("#room", "310")
        page.click("#confirm")
        page.wait_for_selector("#saved")
        assert desk.query("SELECT kind FROM events") == [("check_in",)]
    finally:
        desk.stop()
