"""Debian's Chromium driven by Playwright (never a downloaded browser), launched one way for
the front-desk tests, the police-page tests and the front-desk bench."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest

# Debian's headless shell (package chromium-headless-shell, built from the same source as
# chromium): the same Blink and V8 without the desktop browser around them, the build Playwright
# itself runs for headless tests. It costs about half the CPU of the full browser in headless
# mode for the same tests (tests/web: 42 s -> 24 s for 11 tests on 2 cores), a third less wall
# time. The full browser stands in where the shell is not installed; the benches run the full
# browser (bench/bench_frontdesk.py, bench/bench_taps.py).
HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def executable() -> str | None:
    """The Chromium the tests drive: the headless shell, else the full browser, else none."""
    return next((path for path in (HEADLESS_SHELL, CHROMIUM) if Path(path).exists()), None)


def skip_without_chromium() -> None:
    """At module level of a browser test: skip it where Playwright or chromium is missing."""
    pytest.importorskip("playwright.sync_api")
    if executable() is None:
        pytest.skip("Debian's chromium is not installed "
                    "(apt-get install chromium-headless-shell)", allow_module_level=True)


@contextmanager
def launched(warm_dir: Path) -> Iterator[object]:
    """A headless browser, warmed up: its first page has written a screenshot into
    `warm_dir`, so every thread Playwright makes exists before the tests' leak check counts."""
    from playwright.sync_api import sync_playwright

    manager = sync_playwright()
    with manager as p:
        # Playwright writes files (screenshots) through its loop's default executor, whose
        # threads appear on first use and would count as leaks: one thread, started here.
        manager._loop.set_default_executor(  # type: ignore[attr-defined]
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="playwright-io"))
        browser = p.chromium.launch(executable_path=executable(), args=ARGS)
        warm = browser.new_page()
        warm.screenshot(path=str(warm_dir / "warm.png"))
        warm.close()
        try:
            yield browser
        finally:
            browser.close()


class SharedBrowser:
    """The worker's one browser, launched by the first test that wants one and closed as soon
    as the next test to run is in a module that uses none (tests/conftest.py).

    Playwright's sync API marks its event loop as running on this thread between its calls
    (so that it can refuse to be called from inside a loop): while a browser is open,
    `asyncio.run()` fails on the thread. A browser kept for the whole session broke any later
    module on the same worker that runs a coroutine; one closed behind the last browser module
    breaks none, and the modules that follow one another still share one launch."""

    def __init__(self) -> None:
        self._stack: ExitStack | None = None
        self._browser: object | None = None

    def get(self, warm_dir: Path) -> object:
        if self._browser is None:
            stack = ExitStack()
            self._browser = stack.enter_context(launched(warm_dir))
            self._stack = stack
        return self._browser

    def close(self) -> None:
        stack, self._stack, self._browser = self._stack, None, None
        if stack is not None:
            stack.close()


SHARED = SharedBrowser()
