"""The police pages in Debian's Chromium (Playwright): login -> search -> stay -> export, the
fleet page, the whole record of a stay (and its print layout), the audit page's filters;
screenshots at 1280 wide saved to var/screenshots/police-*.png (and to docs/screenshots with
ANJU_UPDATE_DOCS_SCREENSHOTS=1, as the front-desk tests do). SQLite server only (the pages
are the same on both backends; the API tests cover PostgreSQL)."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest

from central.accounts import admin
from tests.central.central_helpers import Admin
from tests.central.police_helpers import OPERATOR, id_number, unique_name
from tests.central.record_helpers import full_stay
from tests.central.serverproc import CentralServer
from tests.chromium import skip_without_chromium
from tests.forkserver import ForkServer
from tests.sync.wire_helpers import guest
from tests.wlt.fake_decoder import LICENCE, build_fake_decoder, wlt_block

ROOT = Path(__file__).parents[2]
SHOTS = ROOT / "var" / "screenshots"  # a test run leaves the committed docs alone

skip_without_chromium()


@pytest.fixture(scope="module")
def site_server(tmp_path_factory: pytest.TempPathFactory, fork_server: ForkServer
                ) -> Iterator[CentralServer]:
    base = tmp_path_factory.mktemp("police-browser")
    with CentralServer(f"sqlite:///{base / 'central.db'}", base / "server.log",
                       forks=fork_server) as process:
        yield process


@pytest.fixture(scope="module")
def photo_server(tmp_path_factory: pytest.TempPathFactory, fork_server: ForkServer
                 ) -> Iterator[CentralServer]:
    """A server with the fake WLT decoder configured (skips where gcc is missing)."""
    base = tmp_path_factory.mktemp("police-browser-photo")
    library = build_fake_decoder(base)
    with CentralServer(f"sqlite:///{base / 'central.db'}", base / "server.log", extra_args=(
            "--photo-library", str(library), "--photo-licence-code", str(LICENCE)),
                       forks=fork_server) as process:
        yield process


@pytest.fixture(scope="module")
def chromium(browser: object) -> object:
    """The worker's one browser (tests/conftest.py), shared with the front-desk tests."""
    return browser


def shot(page: object, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"police-{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    if os.environ.get("ANJU_UPDATE_DOCS_SCREENSHOTS"):
        shutil.copy(path, ROOT / "docs" / "screenshots" / path.name)


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
        admin.add_user(central.engine, "browser-officer", "officer", "pw-browser-1",
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
            saved = tmp_path / "export.xlsx"
            download.save_as(saved)
            sheet = openpyxl.load_workbook(saved).active
            assert number in [c.value for row in sheet.iter_rows() for c in row]
            with page.expect_download() as download_info:
                page.click("a.export-csv")
            saved = tmp_path / "export.csv"
            download_info.value.save_as(saved)
            assert saved.read_bytes().startswith(b"\xef\xbb\xbf") and number in saved.read_text(
                "utf-8-sig")
            page.click("tr.stay a")
            page.wait_for_selector("table.events")
            assert number in page.inner_text("section.guest")
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
        admin.add_user(central.engine, "photo-officer", "officer", "pw-browser-2",
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
            page.wait_for_selector("section.guest div.photo img")
            page.wait_for_function(
                "() => { const i = document.querySelector('div.photo img');"
                " return i.complete && i.naturalWidth > 0; }")
            size = page.evaluate("() => { const i = document.querySelector('div.photo img');"
                                 " return [i.naturalWidth, i.naturalHeight]; }")
            assert size == [102, 126]
            assert page.locator("div.photo img").count() == 1  # the typed-in guest has none
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
        admin.add_user(central.engine, "browser-admin", "administrator", "pw-browser-3",
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


def _login(page: object, url: str, username: str, password: str) -> None:
    page.goto(url + "/login")  # type: ignore[attr-defined]
    page.fill("input[name=username]", username)  # type: ignore[attr-defined]
    page.fill("input[name=password]", password)  # type: ignore[attr-defined]
    page.click("button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url("**/search")  # type: ignore[attr-defined]


def test_the_whole_record_in_words_prints_and_is_audited_in_words(
        photo_server: CentralServer, chromium: object) -> None:
    """A minor with a contacted guardian, an expired card let through with a reason, a wrong
    check character, a foreign companion with visa, amendments, a corrected time; picked by
    names in the search form; the audit page filtered by reason."""
    central = Admin(photo_server.db_url, photo_server.url)
    try:
        site = central.site("演示旅馆")
        client, chain = central.device(site)
        chain.synchronised = False  # the device clock was not synchronised: times corrected
        photo = base64.b64encode(wlt_block("record")).decode("ascii")
        events, guests = full_stay(chain, unique_name("张"), unique_name("李"), photo_b64=photo)
        adult = guests["adult"]
        client.send_events(events)
        for role in ("officer", "supervisor"):
            admin.add_user(central.engine, f"record-{role}", role, "pw-record-1",
                                   by=OPERATOR)
        context = chromium.new_context(viewport={"width": 1280, "height": 900},  # type: ignore[attr-defined]
                                       locale="zh-CN")
        page = context.new_page()
        page.set_default_timeout(8000)
        try:
            _login(page, photo_server.url, "record-officer", "pw-record-1")
            page.select_option("select[name=card_type]", label="居民身份证（11）")
            page.select_option("select[name=nationality]", label="中国（CHN）")
            page.fill("input[name=site]", site)
            page.fill("input[name=reason]", "核查")
            page.click("form.search button[type=submit]")
            assert "查询事由过于简单" in page.inner_text("p.error")
            page.fill("input[name=reason]", "案件 2026-140 未成年人核查")
            page.click("form.search button[type=submit]")
            page.wait_for_selector("table.stays")
            assert "演示旅馆" in page.inner_text("table.stays")
            shot(page, "search-pickers")
            page.click("tr.stay a")
            page.wait_for_selector("table.findings")
            assert page.title().startswith(f"演示旅馆 306 房 {events[0].wall_time[:10]}")
            guardian = page.locator("section.guest", has_text="张大山")
            assert "已联系" in guardian.inner_text() and "父母" in guardian.inner_text()
            assert "家长电话确认身份" in page.inner_text("table.findings")
            assert "MÜLLER ANNA MARIA" in page.inner_text("main")
            assert "房号：303 → 306" in page.inner_text("table.events")
            fix = page.locator("span.time-fix").first
            assert "设备时钟当时未同步" in (fix.get_attribute("title") or "")
            page.wait_for_function(
                "() => { const i = document.querySelector('div.photo img');"
                " return i && i.complete && i.naturalWidth > 0; }")
            assert adult["document"]["number"] in page.inner_text("main")
            shot(page, "stay-record")
            page.emulate_media(media="print")
            assert not page.locator("header nav").is_visible()
            assert page.locator("p.printed-by").is_visible()
            assert "设备时钟当时未同步" in page.inner_text("p.time-legend")  # the tooltip, printed
            shot(page, "stay-print")
            page.emulate_media(media="screen")
            page.locator("header button").click()  # log out
            _login(page, photo_server.url, "record-supervisor", "pw-record-1")
            page.goto(photo_server.url + "/audit")
            page.fill("form.filters input[name=reason]", "2026-140")
            page.select_option("form.filters select[name=action]", label="查看住宿详情")
            page.click("form.filters button[type=submit]")
            page.wait_for_selector("table.audit")
            rows = page.locator("table.audit tbody tr")
            assert rows.count() == 1
            text = rows.first.inner_text()
            assert "民警" in text and "查看住宿详情" in text and "演示旅馆 306 房" in text
            assert events[0].stay_id not in page.inner_text("main")
            shot(page, "audit")
        finally:
            context.close()
    finally:
        central.close()
