"""What a scan means: MRZ, URL, 网证 QR, booking reference, or unknown.

    raw bytes ──decode_bytes──> text ──classify──> Interpretation
                 ECI charset if the symbol declared one, else UTF-8, else GB18030
                 (a GBK/GB2312 payload is valid GB18030; zbar's own guess is not trusted)

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

Kind = Literal["mrz", "url", "netid", "booking", "unknown"]


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

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"kind": self.kind, "text": self.text, "encoding": self.encoding}
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


def classify(
    raw: bytes | str, *, rules: Rules | None = None, eci_charset: str | None = None,
    today: date | None = None,
) -> Interpretation:  # fmt: skip
    """Interpret one scan (bytes from a scanner or decoder, or text already decoded)."""
    rules = rules or Rules()
    if isinstance(raw, str):
        text, encoding, data = raw, "text", raw.encode("utf-8")
    else:
        text, encoding = decode_bytes(raw, eci_charset)
        data = raw
    stripped = text.strip()
    if any(re.search(p, stripped) for p in rules.netid_patterns):
        return _netid(stripped, encoding, data)
    # MRZ only if it is made of MRZ characters and has fillers: an 88-character URL or code
    # must not become a "broken passport".
    candidate = (mrz.looks_like_mrz(text) and "<" in text) or _permit_shape(text)
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
