"""Card text block -> `CardRead`, and back (for tests and the simulator); SAM id and addresses.

The four layouts are drawn in `layouts.py`; this module turns their fields into a reading:

    resident  nationality "CHN", nation from the GB 3304 code, ID number cross-checked
    J permit  nationality None (the card has none), pass number + issue count, number checked
    I (2017)  card_version "2017", English name, 15-char number: no check applies (valid None)
    Y (2023)  card_version "2023", English name joined from two areas, renewals -> issue_count

Valid-to may be "长期" (long-term): `valid_until` None, `long_term` True. Leftovers are kept in
`extra`: non-blank reserved areas as hex, the 2017 card's version code and accepting-authority
code, the 2023 card's previous-number link. A 2017 card prints the accepting-authority *code*,
not a name: `authority` holds that code (as `CardRead` documents) and
`extra["accepting_authority_code"]` repeats it under an explicit name.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from drivers.idcard import layouts
from drivers.idcard.codes import format_date, id_number_issues, nation_name
from drivers.idcard.errors import CardDecodeError, FrameError
from drivers.idcard.layouts import LAYOUTS, decode_ucs2, pad_field, parse_count, parse_date
from drivers.idcard.reading import PHOTO_SIZE, TEXT_BLOCK_SIZE, CardRead, CardType, Sex
from drivers.idcard.sam_answers import split_appended_addresses

LONG_TERM = "长期"
ADDRESS_ENTRY_SIZE = 70  # one appended address: 35 UCS-2 chars
MAX_APPENDED_ADDRESSES = 4
WLT_PREFIX = bytes.fromhex("57 4C 66 00 7E 00 32 00 00 FF 85")  # "WL", 102, 126, 0x32 (§5)
SAM_ID_SIZE = 16


def decode_text_block(
    text_block: bytes,
    photo_wlt: bytes,
    *,
    fingerprint: bytes | None = None,
    appended_addresses: Iterable[str] = (),
    sam_id: str | None = None,
) -> CardRead:
    """Decode one card's text block; the block and photo are kept verbatim in the result."""
    _expect_size("text_block", text_block, TEXT_BLOCK_SIZE)
    _expect_size("photo", photo_wlt, PHOTO_SIZE)
    layout = layouts.layout_of(text_block)
    raw = layouts.split_fields(text_block, layout)
    text = {key: decode_ucs2(key, value) for key, value in raw.items() if "reserved" not in key}
    extra = {
        f"{key}_hex": value.hex()
        for key, value in raw.items()
        if "reserved" in key and value.strip(b" \x00")
    }
    sex = layouts.parse_sex(text["sex"])
    birth_date = parse_date("birth_date", text["birth_date"])
    if text["valid_until"] == LONG_TERM:
        valid_until, long_term = None, True
    else:
        valid_until, long_term = parse_date("valid_until", text["valid_until"]), False
    if layout == "I":
        # No GB 11643 check applies to the 15-char 2017 number (3 letters + 12 digits).
        issues: tuple[str, ...] = ()
        valid: bool | None = None
    elif layout == "Y":
        issues = id_number_issues(text["id_number"], birth_date, sex, cross_check=False)
        if not text["id_number"].startswith("9") and "format" not in issues:
            issues = ("format", *issues)  # 2023 foreign card numbers begin with 9
        valid = not issues
    else:
        issues = id_number_issues(text["id_number"], birth_date, sex)
        valid = not issues
    common: dict[str, Any] = {
        "sex": sex,
        "birth_date": birth_date,
        "id_number": text["id_number"],
        "id_number_valid": valid,
        "id_number_issues": issues,
        "valid_from": parse_date("valid_from", text["valid_from"]),
        "valid_until": valid_until,
        "long_term": long_term,
        "text_block": bytes(text_block),
        "photo_wlt": bytes(photo_wlt),
        "fingerprint": fingerprint,
        "appended_addresses": tuple(appended_addresses),
        "sam_id": sam_id,
        "extra": extra,
    }
    if layout == "resident":
        code = text["nation_code"] or None
        return CardRead(
            card_type=CardType.RESIDENT, card_version=None, name=text["name"], name_en=None,
            nation_code=code, nation=nation_name(code), nationality="CHN",
            address=text["address"] or None, authority=text["authority"] or None,
            pass_number=None, issue_count=None, **common,
        )  # fmt: skip
    if layout == "J":
        return CardRead(
            card_type=CardType.HK_MO_TW_RESIDENCE, card_version=None, name=text["name"],
            name_en=None, nation_code=None, nation=None, nationality=None,
            address=text["address"] or None, authority=text["authority"] or None,
            pass_number=text["pass_number"] or None,
            issue_count=parse_count("issue_count", text["issue_count"]), **common,
        )  # fmt: skip
    if layout == "I":
        if text["card_version_code"]:
            extra["card_version_code"] = text["card_version_code"]
        if text["authority"]:
            extra["accepting_authority_code"] = text["authority"]
        return CardRead(
            card_type=CardType.FOREIGN_PERMANENT, card_version="2017", name=text["name"],
            name_en=text["name_en"] or None, nation_code=None, nation=None,
            nationality=text["nationality"] or None, address=None,
            authority=text["authority"] or None, pass_number=None, issue_count=None, **common,
        )  # fmt: skip
    # "Y": join the *untrimmed* first part of the English name, so that a space falling exactly
    # at the split survives; only the joined name is trimmed.
    first_part = raw["name_en_1"].decode("utf-16-le")  # surrogates were refused above
    name_en = layouts.checked_text("name_en", first_part + text["name_en_2"])
    if text["previous_number_link"]:
        extra["previous_number_link"] = text["previous_number_link"]
    return CardRead(
        card_type=CardType.FOREIGN_PERMANENT, card_version="2023", name=text["name"],
        name_en=name_en or None, nation_code=None, nation=None,
        nationality=text["nationality"] or None, address=None, authority=None,
        pass_number=None, issue_count=parse_count("issue_count", text["issue_count"]), **common,
    )  # fmt: skip


def card_from_json(data: dict[str, Any]) -> CardRead:
    """Rebuild a reading from `CardRead.to_json()` output, re-decoding the raw text block."""
    try:
        text_block = base64.b64decode(data["text_block_b64"], validate=True)
        photo = base64.b64decode(data["photo_wlt_b64"], validate=True)
    except (KeyError, TypeError, ValueError) as err:
        raise CardDecodeError(
            "card JSON lacks text_block_b64/photo_wlt_b64 (print it with --unmasked)"
        ) from err
    fingerprint_b64 = data.get("fingerprint_b64")
    fingerprint = base64.b64decode(fingerprint_b64) if fingerprint_b64 else None
    return decode_text_block(
        text_block,
        photo,
        fingerprint=fingerprint,
        appended_addresses=tuple(data.get("appended_addresses") or ()),
        sam_id=data.get("sam_id"),
    )


def encode_text_block(fields: Mapping[str, Any]) -> bytes:
    """Build a 256-byte text block from plain values (the inverse of `decode_text_block`).

    Keys: card_type (a `CardType` value) and, for foreign cards, card_version "2017"/"2023";
    then the layout's fields: name, name_en, sex (code "0"/"1"/"2"/"9" or `Sex`), nation_code,
    birth_date, valid_from, valid_until (date, "YYYYMMDD" or "长期"), address, id_number,
    authority (the 4-char accepting-authority code on 2017 cards), nationality, pass_number,
    issue_count, card_version_code, previous_number_link. Missing fields stay blank, so tests can
    build broken blocks; unknown keys and over-long values raise ValueError (never truncated).
    """
    layout = _layout_for(fields)
    allowed = {key for key, _, _ in LAYOUTS[layout] if key != "type" and "reserved" not in key}
    if layout == "Y":
        allowed = (allowed - {"name_en_1", "name_en_2"}) | {"name_en"}
    values = {k: v for k, v in fields.items() if k not in ("card_type", "card_version")}
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ValueError(f"fields not on a {layout} card: {', '.join(unknown)}")
    text = {key: _as_text(key, value) for key, value in values.items() if value is not None}
    if layout == "Y" and "name_en" in text:
        name_en = pad_field("name_en", text.pop("name_en"), layouts.Y_NAME_EN_CHARS)
        split = layouts.Y_NAME_EN_SPLIT
        text["name_en_1"], text["name_en_2"] = name_en[:split], name_en[split:]
    if layout != "resident":
        text["type"] = layout
    block = bytearray(" ".encode("utf-16-le") * (TEXT_BLOCK_SIZE // 2))
    for key, offset, chars in LAYOUTS[layout]:
        if key in text:
            encoded = pad_field(key, text[key], chars).encode("utf-16-le")
            block[offset : offset + 2 * chars] = encoded
    return bytes(block)


def decode_appended_addresses(data: bytes) -> tuple[str, ...]:
    """Appended addresses (30 03 payload): 70-byte UCS-2 entries, up to 4, blanks skipped.

    GA 490 allows 4 entries, some hosts read only one; like sdtapi, anything beyond 280 bytes is
    ignored and a short last entry is still decoded (`payloads.split_appended_addresses`).
    The newest address is the last one (`CardRead.current_address`).
    """
    entries = (decode_ucs2("appended_address", entry) for entry in split_appended_addresses(data))
    return tuple(entry for entry in entries if entry)


def encode_appended_addresses(addresses: Iterable[str]) -> bytes:
    """The 30 03 payload for up to 4 addresses (the simulator's side of the exchange)."""
    entries = list(addresses)
    if len(entries) > MAX_APPENDED_ADDRESSES:
        raise ValueError(f"appended_addresses: at most 4, got {len(entries)}")
    chars = ADDRESS_ENTRY_SIZE // 2
    return b"".join(pad_field("appended_address", a, chars).encode("utf-16-le") for a in entries)


def format_sam_id(data16: bytes) -> str:
    """SAM id string from the 16 data bytes of 12 FF, as Routon's sdtapi prints it.

    Five unsigned little-endian numbers of 2, 2, 4, 4, 4 bytes printed 2-2-8-10-10 digits wide;
    unsigned matters: values of 2**31 and above occur (one public parser reads them signed).
    """
    _expect_size("sam_id", data16, SAM_ID_SIZE, error=FrameError)
    spans = ((0, 2), (2, 4), (4, 8), (8, 12), (12, 16))
    a, b, c, d, e = (int.from_bytes(data16[lo:hi], "little") for lo, hi in spans)
    return f"{a:02d}.{b:02d}-{c:08d}-{d:010d}-{e:010d}"


def synthetic_photo(seed: str | int | None = None) -> bytes:
    """A 1024-byte block with only the WLT header (not decodable); a seed varies its hash."""
    # A digest of the seed rather than the seed itself: every seed (even "") differs from the
    # unseeded block and from every other seed, and no guest's label lands in photo bytes.
    tail = b"" if seed is None else hashlib.sha256(str(seed).encode("utf-8")).digest()
    return (WLT_PREFIX + tail).ljust(PHOTO_SIZE, b"\x00")


def _expect_size(
    what: str, data: bytes, size: int, *, error: type[Exception] = CardDecodeError
) -> None:
    if len(data) != size:
        raise error(f"{what}: expected {size} bytes, got {len(data)}")


def _layout_for(fields: Mapping[str, Any]) -> str:
    card_type, version = fields.get("card_type"), fields.get("card_version")
    if card_type == CardType.RESIDENT and version is None:
        return "resident"
    if card_type == CardType.HK_MO_TW_RESIDENCE and version is None:
        return "J"
    if card_type == CardType.FOREIGN_PERMANENT and str(version) in ("2017", "2023"):
        return "I" if str(version) == "2017" else "Y"
    raise ValueError(
        "card_type/card_version: expected resident, hk_mo_tw_residence, or foreign_permanent "
        f"with card_version 2017/2023, got {card_type!r}/{version!r}"
    )


def _as_text(key: str, value: Any) -> str:
    if isinstance(value, Sex):
        return value.code
    if isinstance(value, date):
        return format_date(value)
    if key == "issue_count" and isinstance(value, int) and not isinstance(value, bool):
        if not 0 <= value <= 99:
            raise ValueError(f"issue_count: expected 0..99, got {value}")
        return f"{value:02d}"
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected text, got {type(value).__name__}")
    return value
