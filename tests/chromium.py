"""Debian's Chromium driven by Playwright (never a downloaded browser), launched one way for
the front-desk tests, the police-page tests and the front-desk bench."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def skip_without_chromium() -> None:
    """At module level of a browser test: skip it where Playwright or chromium is missing."""
    pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)",
                    allow_module_level=True)


@contextmanager
def launched(warm_dir: Path, warm_url: str | None = None) -> Iterator[object]:
    """A headless browser, warmed up: its first page (at `warm_url`, if given) has written
    a screenshot into `warm_dir`, so every thread Playwright makes exists before the tests'
    leak check starts counting."""
    from playwright.sync_api import sync_playwright

    manager = sync_playwright()
    with manager as p:
        # Playwright writes files (screenshots) through its loop's default executor, whose
        # threads appear on first use and would count as leaks: one thread, started here.
        manager._loop.set_default_executor(  # type: ignore[attr-defined]
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright-io"))
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        warm = browser.new_page()
        if warm_url is not None:
            warm.goto(warm_url)
        warm.screenshot(path=str(warm_dir / "warm.png"))
        warm.close()
        try:
            yield browser
        finally:
            browser.close()
