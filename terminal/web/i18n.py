"""Languages of the page: gettext catalogs (compiled with Babel) and one Jinja2 env per locale.

Source strings are English; `locale/zh_CN/LC_MESSAGES/messages.po` holds the Chinese, compiled
to `messages.mo` by `pybabel compile -d terminal/web/locale` (a test checks the .mo is current).
One environment per locale, each with its translations installed, so two pages in different
languages never share a gettext state.
"""

from __future__ import annotations

import gettext
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path

import jinja2

LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_DIR = Path(str(resources.files("terminal.web").joinpath("locale")))
TEMPLATE_DIR = Path(str(resources.files("terminal.web").joinpath("templates")))


@cache
def translations(locale: str) -> gettext.NullTranslations:
    if locale == "en":
        return gettext.NullTranslations()
    return gettext.translation("messages", localedir=LOCALE_DIR, languages=[locale],
                               fallback=True)


def gettext_for(locale: str) -> Callable[[str], str]:
    return translations(locale).gettext


@cache
def environment(locale: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True, lstrip_blocks=True,
    )
    env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
    env.globals["locale"] = locale
    return env


def pick(requested: str | None, default: str) -> str:
    return requested if requested in LOCALES else default
