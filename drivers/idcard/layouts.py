"""Where each field of the 256-byte text block sits, and how one field's bytes become a value.

Text is UCS-2 little-endian, every field padded to its width with U+0020; the UCS-2 char at byte
248 selects the layout (reference §3). Byte offsets, widths in chars in brackets:

    resident  0 name[15] 30 sex[1] 32 nation[2] 36 birth[8] 52 address[35] 122 number[18]
    (' '/NUL) 158 authority[15] 188 valid_from[8] 204 valid_to[8] 220 reserved[18]
    J permit  as resident, but 32 reserved[2]; 220 pass_number[9] 238 issue_count[2]
              242 reserved[3] 248 'J' 250 reserved[3]
    I (2017)  0 name_en[60] 120 sex[1] 122 number[15] 152 nationality[3] 158 name[15]
              188 valid_from[8] 204 valid_to[8] 220 birth[8] 236 version[2] 240 authority_code[4]
              248 'I' 250 reserved[3]
    Y (2023)  0 name[15] 30 sex[1] 32 renewals[2] 36 birth[8] 52 name_en 1-35[35] 122 number[18]
              158 reserved[15] 188 valid_from[8] 204 valid_to[8] 220 name_en 36-46[11]
              242 nationality[3] 248 'Y' 250 previous_number_link[3]

Field rules, each answering a bug seen in public parsers (reference §3.5, §7.2):
* only trailing U+0020 and U+0000 are trimmed: English names have inner spaces;
* surrogates and control characters raise `CardDecodeError`: UCS-2 cannot carry the first, and
  either means a misaligned or corrupt block (a NUL would not survive PostgreSQL text either);
* dates are exactly eight ASCII digits forming a real date, else the error names the field;
* sex codes 0 and 9 stay distinct from 2.
"""

from __future__ import annotations

import re
from datetime import date

from drivers.idcard.errors import CardDecodeError
from drivers.idcard.reading import Sex

TYPE_OFFSET = 248
Y_NAME_EN_SPLIT = 35  # chars of a 2023 card's English name held at offset 52; the rest at 220
Y_NAME_EN_CHARS = 46

# (field, byte offset, width in chars); "reserved_N" areas are never interpreted.
# fmt: off
LAYOUTS: dict[str, tuple[tuple[str, int, int], ...]] = {
    "resident": (
        ("name", 0, 15), ("sex", 30, 1), ("nation_code", 32, 2), ("birth_date", 36, 8),
        ("address", 52, 35), ("id_number", 122, 18), ("authority", 158, 15),
        ("valid_from", 188, 8), ("valid_until", 204, 8), ("reserved_220", 220, 18),
    ),
    "J": (
        ("name", 0, 15), ("sex", 30, 1), ("reserved_32", 32, 2), ("birth_date", 36, 8),
        ("address", 52, 35), ("id_number", 122, 18), ("authority", 158, 15),
        ("valid_from", 188, 8), ("valid_until", 204, 8), ("pass_number", 220, 9),
        ("issue_count", 238, 2), ("reserved_242", 242, 3), ("type", 248, 1),
        ("reserved_250", 250, 3),
    ),
    "I": (
        ("name_en", 0, 60), ("sex", 120, 1), ("id_number", 122, 15), ("nationality", 152, 3),
        ("name", 158, 15), ("valid_from", 188, 8), ("valid_until", 204, 8),
        ("birth_date", 220, 8), ("card_version_code", 236, 2), ("authority", 240, 4),
        ("type", 248, 1), ("reserved_250", 250, 3),
    ),
    "Y": (
        ("name", 0, 15), ("sex", 30, 1), ("issue_count", 32, 2), ("birth_date", 36, 8),
        ("name_en_1", 52, 35), ("id_number", 122, 18), ("reserved_158", 158, 15),
        ("valid_from", 188, 8), ("valid_until", 204, 8), ("name_en_2", 220, 11),
        ("nationality", 242, 3), ("type", 248, 1), ("previous_number_link", 250, 3),
    ),
}
# fmt: on
_LAYOUT_BY_CHAR = {" ": "resident", "\x00": "resident", "J": "J", "I": "I", "Y": "Y"}
_DATE_RE = re.compile(r"[0-9]{8}")  # ASCII only: str.isdigit() accepts full-width digits too
_COUNT_RE = re.compile(r"[0-9]{1,2}")


def layout_of(block: bytes) -> str:
    """The layout ("resident", "J", "I" or "Y") named by the char at 248; others are refused."""
    marker = chr(int.from_bytes(block[TYPE_OFFSET : TYPE_OFFSET + 2], "little"))
    try:
        return _LAYOUT_BY_CHAR[marker]
    except KeyError:
        raise CardDecodeError(
            f"card_type: expected ' ', 'J', 'I' or 'Y' at offset 248, got {marker!r}"
        ) from None


def split_fields(block: bytes, layout: str) -> dict[str, bytes]:
    """The raw bytes of every field of `layout`, by field name."""
    return {key: bytes(block[off : off + 2 * chars]) for key, off, chars in LAYOUTS[layout]}


def decode_ucs2(field: str, raw: bytes) -> str:
    """One field's text, trailing padding trimmed; surrogates or control characters raise."""
    units = [int.from_bytes(raw[i : i + 2], "little") for i in range(0, len(raw), 2)]
    if any(0xD800 <= unit <= 0xDFFF for unit in units):
        raise CardDecodeError(f"{field}: not UCS-2 text (UTF-16 surrogate code unit)")
    return checked_text(field, "".join(map(chr, units)))


def checked_text(field: str, text: str) -> str:
    """Trim trailing U+0020/U+0000 only, then refuse control characters left inside."""
    text = text.rstrip(" \x00")
    for position, char in enumerate(text):
        if ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0:
            raise CardDecodeError(
                f"{field}: control character U+{ord(char):04X} at char {position}"
            )
    return text


def parse_sex(code: str) -> Sex:
    try:
        return Sex.from_code(code)
    except ValueError:
        raise CardDecodeError(f"sex: expected one of 0, 1, 2, 9, got {code!r}") from None


def parse_date(field: str, text: str) -> date:
    if _DATE_RE.fullmatch(text):
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            pass  # e.g. 20230230: reported below with the same message as a malformed one
    raise CardDecodeError(f"{field}: expected YYYYMMDD, got {text!r}")


def parse_count(field: str, text: str) -> int | None:
    """A 2-digit count (issue count, renewals); None when the field is blank."""
    if not text:
        return None
    if not _COUNT_RE.fullmatch(text):
        raise CardDecodeError(f"{field}: expected 2 digits, got {text!r}")
    return int(text)


def pad_field(field: str, value: str, chars: int) -> str:
    """`value` padded with U+0020 to `chars`; too long or not UCS-2 raises ValueError."""
    if len(value) > chars:
        raise ValueError(f"{field}: at most {chars} chars, got {len(value)}")
    if any(ord(c) > 0xFFFF or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError(f"{field}: UCS-2 cannot carry characters outside the BMP")
    return value.ljust(chars, " ")
