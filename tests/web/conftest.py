"""Browser fixtures: Debian's Chromium driven by Playwright (never a downloaded browser).

The browser is the worker's one (tests/conftest.py: `browser`), a fresh context per test.
Screenshots of every screen at 800x480 go to var/screenshots/ (test artifacts); each shot is
also checked for text that overflows its box.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.central.serverproc import CentralServer
from tests.chromium import skip_without_chromium
from tests.forkserver import ForkServer
from tests.web import desk as desk_module
from tests.web.desk import ROOT, Desk, anju, write_settings

SHOTS = ROOT / "var" / "screenshots"
SITE = "4401060001"

skip_without_chromium()

OVERFLOW_JS = """() => {
  const bad = [];
  for (const el of document.querySelectorAll('body *')) {
    if (['INPUT','SELECT','OPTION','SCRIPT','STYLE','TEXTAREA','DATALIST'].includes(el.tagName))
      continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || el.clientWidth === 0) continue;
    const style = getComputedStyle(el);
    if (style.display === 'inline') continue;  // inline boxes have no clientWidth of their own
    if (el.scrollWidth > el.clientWidth + 1)
      bad.push(el.tagName + '.' + el.className + ': ' + el.textContent.trim().slice(0, 40));
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    bad.push('page scrolls sideways');
  return bad;
}"""


@pytest.fixture(autouse=True)
def forked_commands(fork_server: ForkServer) -> Iterator[None]:
    """Every `anju` command a test here starts (the service, the uploader, provisioning) is
    forked ready-imported: about 0.7 s of CPU less for each. Set per test, so that tests
    elsewhere that borrow tests/web/desk.py start theirs as before, whatever ran first."""
    desk_module.fork_server = fork_server
    try:
        yield
    finally:
        desk_module.fork_server = None


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 800, "height": 480},  # type: ignore[attr-defined]
                                  locale="zh-CN")
    tab = context.new_page()
    tab.set_default_timeout(8000)
    try:
        yield tab
    finally:
        context.close()


def shoot(page: object, name: str) -> Path:
    """Save a screenshot (800x480 unless the test resized) and fail on overflowing text."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path))  # type: ignore[attr-defined]
    overflowing = page.evaluate(OVERFLOW_JS)  # type: ignore[attr-defined]
    assert overflowing == [], f"{name}: text overflows: {overflowing}"
    if os.environ.get("ANJU_UPDATE_DOCS_SCREENSHOTS"):
        docs = ROOT / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, docs / path.name)
    return path


@pytest.fixture(scope="session")
def central(sqlite_central: CentralServer) -> CentralServer:
    """The session's SQLite server (tests/conftest.py) with the desk's site."""
    anju("central", "site", "add", SITE, "--name", "测试旅馆", "--db", sqlite_central.db_url)
    return sqlite_central


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    """A terminal with an identity, not provisioned (server: not set up)."""
    the_desk = Desk(tmp_path, write_settings(tmp_path))
    try:
        yield the_desk
    finally:
        the_desk.stop()


def provisioned(tmp_path: Path, central: CentralServer, server_url: str | None = None) -> Desk:
    """A terminal enrolled with `central` at `server_url` (default: the server's own URL; a
    test may put a proxy in between)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = write_settings(tmp_path, identity=False)
    token = anju("central", "token", "issue", "--site", SITE, "--db", central.db_url).strip()
    anju("provision", "--server", server_url or central.url, "--token", token, "--config",
         str(config), "--no-reader")
    return Desk(tmp_path, config)


@pytest.fixture
def online_desk(tmp_path: Path, central: CentralServer) -> Iterator[Desk]:
    """A provisioned terminal with its uploader running against the session's server."""
    the_desk = provisioned(tmp_path, central)
    the_desk.start_uploader()
    try:
        yield the_desk
    finally:
        the_desk.stop()
