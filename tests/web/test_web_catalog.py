"""The page's translations: every string has Chinese, and the compiled .mo matches the .po."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from terminal.web import i18n

WEB = Path(i18n.__file__).parent
PO = WEB / "locale" / "zh_CN" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


def test_every_page_string_is_translated() -> None:
    # The same methods as babel.cfg (what `pybabel extract -F terminal/web/babel.cfg` uses).
    methods = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    options = {"**/templates/**.html": {"trim_blocks": "True", "lstrip_blocks": "True"}}
    wanted = {message for _, _, message, _, _ in extract_from_dir(WEB, methods, options)}
    with PO.open("rb") as f:
        catalog = read_po(f)
    translated = {m.id for m in catalog if m.id and m.string and "fuzzy" not in m.flags}
    assert wanted - translated == set()


def test_compiled_catalog_is_current() -> None:
    with PO.open("rb") as f:
        catalog = read_po(f)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    assert MO.read_bytes() == buffer.getvalue(), "run: pybabel compile -d terminal/web/locale"


def test_chinese_is_the_default_and_english_available() -> None:
    assert i18n.gettext_for("zh_CN")("Saved") == "已保存"
    assert i18n.gettext_for("en")("Saved") == "Saved"
