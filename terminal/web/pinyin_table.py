"""The pinyin keyboard's table (static/pinyin.json): toneless syllable -> characters.

The front desk has no keyboard, and a guardian's name comes from no document when the
guardian's card is not at hand. The page's pinyin keyboard (static/app.js) looks up what the
clerk types here, exactly as a phone's pinyin keyboard would, and inserts the chosen character
as it is (one Unicode code point; nothing is converted or normalised afterwards).

Characters come from the character sets themselves, in the standards' order, never typed by
hand: GB 2312 level 1 (the 3,755 common characters), then level 2 (3,008 less common), then
the rest of GBK (rarer and traditional forms, e.g. for names from Hong Kong or Taiwan). Their
readings, every one of a character with several, come from pypinyin's data (pinned in
requirements.lock; a development dependency only: the terminal serves the built JSON). ü is
written v, as on Chinese keyboards (lv 绿, nv 女). Within a syllable, characters whose first
reading it is come first (张 before 长 for zhang), each group in the standards' order.

    python -m terminal.web.pinyin_table      rebuilds static/pinyin.json (a test compares)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

TABLE = Path(__file__).parent / "static" / "pinyin.json"


def _decoded(leads: range, trails: range) -> Iterator[str]:
    for lead in leads:
        for trail in trails:
            try:
                char = bytes((lead, trail)).decode("gbk")
            except UnicodeDecodeError:
                continue
            if len(char) == 1 and ("\u3400" <= char <= "\u9fff" or "\uf900" <= char <= "\ufaff"):
                yield char


def characters() -> list[str]:
    """GB 2312 level 1, level 2, then the rest of GBK, each once, in the standards' order."""
    level_1 = _decoded(range(0xB0, 0xD8), range(0xA1, 0xFF))
    level_2 = _decoded(range(0xD8, 0xF8), range(0xA1, 0xFF))
    gbk_3 = _decoded(range(0x81, 0xA1), range(0x40, 0xFF))
    gbk_4 = _decoded(range(0xAA, 0xFF), range(0x40, 0xA1))
    seen: dict[str, None] = {}
    for group in (level_1, level_2, gbk_3, gbk_4):
        for char in group:
            seen.setdefault(char, None)
    return list(seen)


def build() -> dict[str, str]:
    from pypinyin import Style, pinyin  # development only: see the module's docstring

    primary: dict[str, list[str]] = {}  # a character's first reading: listed first
    other: dict[str, list[str]] = {}
    for char in characters():
        readings = pinyin(char, style=Style.NORMAL, heteronym=True, errors="ignore")
        syllables = [s.lower() for s in (readings[0] if readings else [])
                     if s.isascii() and s.isalpha()]
        for index, syllable in enumerate(syllables):
            (other if index else primary).setdefault(syllable, []).append(char)
    return {syllable: "".join(dict.fromkeys(primary.get(syllable, []) + other.get(syllable, [])))
            for syllable in sorted(primary.keys() | other.keys())}


def dumps(table: dict[str, str]) -> str:
    return json.dumps(table, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def main() -> None:
    TABLE.write_text(dumps(build()), "utf-8")
    sys.stdout.write(f"wrote {TABLE}\n")


if __name__ == "__main__":
    main()
