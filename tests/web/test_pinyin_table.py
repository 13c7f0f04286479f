"""The pinyin keyboard's table: rebuilt from its sources it equals the shipped file, and it
maps what a clerk types to the characters a name needs, common ones first."""

from __future__ import annotations

import json
import unicodedata

from terminal.web import pinyin_table


def test_the_shipped_table_is_the_one_its_sources_build() -> None:
    built = pinyin_table.dumps(pinyin_table.build())
    assert pinyin_table.TABLE.read_text("utf-8") == built, "run python -m terminal.web.pinyin_table"


def test_common_name_characters_come_first_and_rare_ones_are_there() -> None:
    table = json.loads(pinyin_table.TABLE.read_text("utf-8"))
    assert table["zhang"].index("张") < 8 and table["wang"].index("王") < 3
    assert table["lv"].startswith("驴") and "绿" in table["lv"] and "吕" in table["lv"]
    assert "喆" in table["zhe"] and "堃" in table["kun"]  # GBK, beyond GB 2312
    # Level 1 before level 2 before the rest of GBK, within each syllable's own readings.
    chars = pinyin_table.characters()
    assert chars.index("张") < 3755 <= chars.index("喆")


def test_every_entry_is_whole_characters_once_each() -> None:
    table = json.loads(pinyin_table.TABLE.read_text("utf-8"))
    assert 400 <= len(table) <= 430
    for syllable, chars in table.items():
        assert syllable.isascii() and syllable.isalpha() and syllable.islower()
        assert len(set(chars)) == len(chars)
        assert all(unicodedata.name(c).startswith("CJK") for c in chars)
