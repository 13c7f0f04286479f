"""The police pages in Debian's Chromium (Playwright): login -> search -> stay -> export, and the
fleet page; screenshots saved to var/screenshots/police-*.png as artifacts. SQLite server only
(the pages are the same on both backends; the API tests cover PostgreSQL)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from central import account_admin
from tests.central.central_helpers import Admin
from tests.central.police_helpers import OPERATOR, id_number, unique_name
from tests.central.serverproc import CentralServer
from tests.chromium import launched, skip_without_chromium
from tests.sync.wire_helpers import guest
from tests.wlt.fake_decoder import LICENCE, build_fake_decoder, wlt_block

SHOTS = Path(__file__).parents[2] / "var" / "screenshots"

skip_without_chromium()


@pytest.fixture(scope="module")
def site_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralServer]:
    base = tmp_path_factory.mktemp("police-browser")
    with CentralServer(f"sqlite:///{base / 'central.db'}", base / "server.log") as process:
        yield process


@pytest.fixture(scope="module")
def photo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CentralServer]:
    """A server with the fake WLT decoder configured (skips where gcc is missing)."""
    base = tmp_path_factory.mktemp("police-browser-photo")
    library = build_fake_decoder(base)
    with CentralServer(f"sqlite:///{base / 'central.db'}", base / "server.log", extra_args=(
            "--photo-library", str(library), "--photo-licence-code", str(LICENCE))) as process:
        yield process


@pytest.fixture(scope="module")
def chromium(site_server: CentralServer, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[object]:
    with launched(tmp_path_factory.mktemp("warm"), site_server.url + "/login") as browser:
        yield browser


def shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"police-{name}.png"), full_page=True)  # type: ignore[attr-defined]


def test_login_search_stay_export_and_fleet(site_server: CentralServer, chromium: object,
                                            tmp_path: Path) -> None:
    central = Admin(site_server.db_url, site_server.url)
    try:
        client, chain = central.device(central.site("浏览器测试客栈"))
        name, number = unique_name("林"), id_number()
        chain.wall = datetime.now(UTC) - timedelta(days=3)  # inside the fleet chart's 30 days
        first = chain.check_in("808", [guest(name, number)])
        others = [chain.check_in(str(900 + i), [guest(unique_name(), id_number())])
                  for i in range(4)]
        client.send_events([first, *others])
        account_admin.add_user(central.engine, "browser-officer", "officer", "pw-browser-1",
                               by=OPERATOR)
        context = chromium.new_context(viewport={"width": 1280, "height": 900},  # type: ignore[attr-defined]
                                       locale="zh-CN", accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(8000)
        try:
            page.goto(site_server.url + "/search")
            assert page.url.endswith("/login")
            page.fill("input[name=username]", "browser-officer")
            page.fill("input[name=password]", "pw-browser-1")
            shot(page, "login")
            page.click("button[type=submit]")
            page.wait_for_url("**/search")
            page.fill("input[name=document]", number)
            page.fill("input[name=reason]", "浏览器测试 案件 1")
            page.click("form.search button[type=submit]")
            page.wait_for_selector("table.stays")
            assert page.locator("tr.stay").count() == 1
            assert name in page.inner_text("table.stays")
            shot(page, "search")
            with page.expect_download() as download_info:
                page.click("a.export")
            download = download_info.value
            saved = tmp_path / "export.csv"
            download.save_as(saved)
            assert saved.read_bytes().startswith(b"\xef\xbb\xbf") and number in saved.read_text(
                "utf-8-sig")
            page.click("tr.stay a")
            page.wait_for_selector("table.events")
            assert number in page.inner_text("table.guests")
            assert "通过" in page.inner_text("table.events")
            shot(page, "stay")
            page.click("a[href='/fleet']")
            page.wait_for_selector("table.fleet")
            assert page.locator("svg.chart").count() == 1
            assert "合计 5" in page.inner_text("figure")
            shot(page, "fleet")
        finally:
            context.close()
        actions = [(r["action"], r["reason"]) for r in central.rows(
            "audit_log", username="browser-officer")]
        assert sorted(actions) == sorted([("search", "浏览器测试 案件 1"),
                                          ("export", "浏览器测试 案件 1"),
                                          ("view", "浏览器测试 案件 1")])
    finally:
        central.close()


def test_stay_page_shows_the_card_photo(photo_server: CentralServer, chromium: object) -> None:
    central = Admin(photo_server.db_url, photo_server.url)
    try:
        client, chain = central.device()
        card, typed = guest(unique_name("林"), id_number()), guest(unique_name(), id_number())
        card["document"]["card"] = {"photo_wlt_b64": base64.b64encode(
            wlt_block("browser")).decode("ascii")}
        first = chain.check_in("809", [card, typed])
        client.send_events([first])
        account_admin.add_user(central.engine, "photo-officer", "officer", "pw-browser-2",
                               by=OPERATOR)
        context = chromium.new_context(viewport={"width": 1280, "height": 900},  # type: ignore[attr-defined]
                                       locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(8000)
        try:
            page.goto(photo_server.url + "/login")
            page.fill("input[name=username]", "photo-officer")
            page.fill("input[name=password]", "pw-browser-2")
            page.click("button[type=submit]")
            page.wait_for_url("**/search")
            page.fill("input[name=document]", card["document"]["number"])
            page.fill("input[name=reason]", "浏览器测试 照片")
            page.click("form.search button[type=submit]")
            page.click("tr.stay a")
            page.wait_for_selector("table.guests td.photo img")
            page.wait_for_function(
                "() => { const i = document.querySelector('td.photo img');"
                " return i.complete && i.naturalWidth > 0; }")
            size = page.evaluate("() => { const i = document.querySelector('td.photo img');"
                                 " return [i.naturalWidth, i.naturalHeight]; }")
            assert size == [102, 126]
            assert page.locator("td.photo img").count() == 1  # the typed-in guest has none
            shot(page, "stay-photo")
        finally:
            context.close()
        actions = sorted(r["action"] for r in central.rows("audit_log", username="photo-officer"))
        assert actions == ["photo", "search", "view"]
    finally:
        central.close()


def test_an_administrator_manages_an_officer_and_its_tokens_on_the_users_page(
        site_server: CentralServer, chromium: object) -> None:
    """The /users forms as a browser submits them: add, change, issue and revoke a token."""
    central = Admin(site_server.db_url, site_server.url)
    try:
        account_admin.add_user(central.engine, "browser-admin", "administrator", "pw-browser-3",
                               by=OPERATOR)
        context = chromium.new_context(viewport={"width": 1280, "height": 900},  # type: ignore[attr-defined]
                                       locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(8000)
        try:
            page.goto(site_server.url + "/login")
            page.fill("input[name=username]", "browser-admin")
            page.fill("input[name=password]", "pw-browser-3")
            page.click("button[type=submit]")
            page.wait_for_url("**/search")
            page.goto(site_server.url + "/users")
            add = page.locator("form.search")
            assert add.locator("option").all_inner_texts() == ["民警", "主管", "技术员"]
            add.locator("input[name=username]").fill("browser-new")
            add.locator("select[name=role]").select_option("officer")
            add.locator("input[name=district]").fill("海珠")
            add.locator("button[type=submit]").click()
            page.wait_for_selector("code.password")
            row = page.locator('tr[data-user="browser-new"]')
            row.locator("select[name=role]").select_option("technician")
            row.locator("form:has(select[name=role]) button").click()
            page.wait_for_selector("p.message:has-text('已修改')")
            page.locator('tr[data-user="browser-new"] button:has-text("签发令牌")').click()
            token = page.inner_text("code.token")
            assert token.startswith("anju_")
            shot(page, "users")
            row = page.locator('tr[data-user="browser-new"]')
            assert "有效期至" in row.inner_text() and row.locator("div.token").count() == 1
            row.locator('div.token button:has-text("吊销")').click()
            page.wait_for_selector("p.message:has-text('已吊销')")
            assert page.locator('tr[data-user="browser-new"] div.token').count() == 0
        finally:
            context.close()
        (user,) = central.rows("users", username="browser-new")
        assert (user["role"], user["district"]) == ("technician", "海珠")
        (stored,) = central.rows("api_tokens", username="browser-new")
        assert stored["revoked_reason"] == "revoked"
        assert [r["action"] for r in sorted(central.rows("audit_log", username="browser-admin"),
                                            key=lambda r: r["id"])] == [
            "user_add", "user_change", "token_issue", "token_revoke"]
    finally:
        central.close()
