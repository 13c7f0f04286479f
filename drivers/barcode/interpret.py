"""What a scan means: MRZ, URL, 网证 QR, booking reference, product code, or unknown.

    raw bytes ──decode_bytes──> text ──classify──> Interpretation
                 ECI charset if the symbol declared one, else UTF-8, else GB18030
                 (a GBK/GB2312 payload is valid GB18030; zbar's own guess is not trusted)

Uncertain text: without an ECI, bytes that are not UTF-8 are read as GB18030, and almost any
double-byte text is valid GB18030 (Shift_JIS Japanese comes out as wrong Chinese). Everyday
Chinese sits in GB2312's area (both bytes A1-FE); Shift_JIS kana and kanji land outside it,
in the rare GBK extension characters. So text outside GB2312 that also decodes strictly as
Shift_JIS or Big5 is flagged `encoding_uncertain` (and never attached), as is text that is no
valid GB18030 at all; we do not guess which one it is. (EUC-KR Korean also lands inside
GB2312's area: that case cannot be told from Chinese by bytes alone.)

Product codes: EAN-13/EAN-8/UPC symbols (the symbology is known from an image), or 13 digits
with a valid GS1 check digit from a scanner that does not say its symbology, are `product`:
never a booking reference, never attached.

A 网证 (national network identity, 国家网络身份认证) QR carries no plain identity: only the
national platform can verify it, online. We attach the payload opaque (base64 of the bytes
as scanned) and say `needs_online_verification`; nothing here pretends to check it. Its
format is not public, so recognition is by configurable markers (`Rules.netid_patterns`); the
shipped default is deliberately narrow and must be confirmed against a real code on site.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Literal
from urllib.parse import urlsplit

from drivers.barcode import mrz

Kind = Literal["mrz", "url", "netid", "booking", "product", "unknown"]
PRODUCT_SYMBOLOGIES = frozenset({"ean13", "ean8", "upca", "upce"})
_ALTERNATIVES = ("shift_jis", "big5")  # legacy encodings GB18030 can mistake for Chinese


@dataclass(frozen=True, slots=True)
class Rules:
    """Site-configurable recognisers (regular expressions, matched against the text)."""

    netid_patterns: tuple[str, ...] = (r"^CTID",)
    netid_hosts: tuple[str, ...] = ()
    booking_pattern: str = r"^[A-Z0-9][A-Z0-9-]{5,23}$"


@dataclass(frozen=True, slots=True)
class Interpretation:
    kind: Kind
    text: str
    encoding: str
    mrz: mrz.MrzResult | None = None
    payload_b64: str | None = None  # netid: the opaque payload for the police side
    needs_online_verification: bool = False
    note: str = ""
    details: dict[str, object] = field(default_factory=dict)
    encoding_uncertain: bool = False  # see the module doc: shown flagged, never attached

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "text": self.text,
            "encoding": self.encoding,
            "encoding_uncertain": self.encoding_uncertain,
        }
        if self.mrz is not None:
            out["mrz"] = {
                "format": self.mrz.format,
                "valid": self.mrz.valid,
                "verified": self.mrz.verified,
                "guest": self.mrz.guest(),
                "problems": [
                    {"field": p.field, "code": p.code, "message": p.message, "severity": p.severity}
                    for p in self.mrz.problems
                ],
            }
        if self.payload_b64 is not None:
            out["payload_b64"] = self.payload_b64
        out["needs_online_verification"] = self.needs_online_verification
        if self.note:
            out["note"] = self.note
        out.update(self.details)
        return out


def decode_bytes(raw: bytes, eci_charset: str | None = None) -> tuple[str, str]:
    """(text, encoding name). Never raises: undecodable bytes fall back to replacement chars."""
    if eci_charset:
        try:
            return raw.decode(eci_charset), eci_charset.lower()
        except (LookupError, UnicodeDecodeError):
            pass  # a lying ECI: fall through to our own order
    try:
        text = raw.decode("utf-8")
        return text.removeprefix("\ufeff"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError:
        return raw.decode("utf-8", errors="replace"), "utf-8-replace"


def uncertain_encoding(raw: bytes, encoding: str) -> tuple[str, ...] | None:
    """None if `encoding` (what decode_bytes chose, without an ECI) can be trusted; else the
    other encodings the bytes also decode as (possibly none: not valid in any we know)."""
    if encoding == "utf-8-replace":
        return ()
    if encoding != "gb18030" or _gb2312_only(raw):
        return None
    also = []
    for name in _ALTERNATIVES:
        try:
            raw.decode(name)
        except UnicodeDecodeError:
            continue
        also.append(name)
    return tuple(also) or None


def _gb2312_only(raw: bytes) -> bool:
    """ASCII and GB2312-area pairs (both bytes A1-FE) only: everyday Chinese."""
    i = 0
    while i < len(raw):
        if raw[i] < 0x80:
            i += 1
        elif i + 1 < len(raw) and 0xA1 <= raw[i] <= 0xFE and 0xA1 <= raw[i + 1] <= 0xFE:
            i += 2
        else:
            return False
    return True


def is_product(text: str, symbology: str | None) -> bool:
    if symbology is not None:
        return symbology in PRODUCT_SYMBOLOGIES
    return len(text) == 13 and text.isascii() and text.isdigit() and _gs1_ok(text)


def _gs1_ok(digits: str) -> bool:
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits[:-1]))
    return (10 - total % 10) % 10 == int(digits[-1])


def classify(
    raw: bytes | str, *, rules: Rules | None = None, eci_charset: str | None = None,
    today: date | None = None, symbology: str | None = None,
) -> Interpretation:  # fmt: skip
    """Interpret one scan (bytes from a scanner or decoder, or text already decoded)."""
    rules = rules or Rules()
    also: tuple[str, ...] | None = None
    if isinstance(raw, str):
        text, encoding, data = raw, "text", raw.encode("utf-8")
    else:
        text, encoding = decode_bytes(raw, eci_charset)
        data = raw
        if not eci_charset:
            also = uncertain_encoding(raw, encoding)
    stripped = text.strip()
    if any(re.search(p, stripped) for p in rules.netid_patterns):
        return _netid(stripped, encoding, data)  # kept as bytes: the text does not matter
    if also is not None:
        return Interpretation(
            "unknown",
            stripped,
            encoding,
            encoding_uncertain=True,
            note="text encoding uncertain: not attached",
            details={"also_decodes_as": list(also)},
        )
    if symbology == "partial":  # zbar: one part of a structured-append set, the rest missing
        return Interpretation(
            "unknown",
            stripped,
            encoding,
            note="incomplete multi-part code",
            details={"incomplete": True},
        )
    if is_product(stripped, symbology):
        return Interpretation("product", stripped, encoding, note="product barcode")
    # MRZ only if it is made of MRZ characters and has fillers: an 88-character URL or code
    # must not become a "broken passport".
    candidate = (
        (mrz.looks_like_mrz(text) and "<" in text)
        or _permit_shape(text)
        or mrz.shaped(mrz.normalise(text))
    )
    result = mrz.parse(text, today=today) if candidate else None
    if result is not None:
        note = result.notes[0] if result.notes else ""
        return Interpretation("mrz", stripped, encoding, mrz=result, note=note)
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*://\S+$", stripped):
        host = (urlsplit(stripped).hostname or "").lower()
        if any(host == h or host.endswith("." + h) for h in rules.netid_hosts):
            return _netid(stripped, encoding, data)
        return Interpretation("url", stripped, encoding, details={"host": host})
    if re.match(rules.booking_pattern, stripped.upper()) and any(c.isdigit() for c in stripped):
        return Interpretation("booking", stripped.upper(), encoding)
    return Interpretation("unknown", stripped, encoding, note="not a recognised payload")


def _permit_shape(text: str) -> bool:
    lines = mrz.normalise(text)
    return bool(lines) and lines[0][:2] in ("CS", "CT") and 2 <= len(lines) <= 3


def _netid(text: str, encoding: str, data: bytes) -> Interpretation:
    return Interpretation(
        "netid",
        text,
        encoding,
        payload_b64=base64.b64encode(data).decode("ascii"),
        needs_online_verification=True,
        note="网证 QR: attached unverified; only the national platform can verify it online",
    )
