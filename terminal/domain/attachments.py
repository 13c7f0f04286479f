"""What a scan adds to a registration besides a guest: an MRZ's evidence, a QR's payload.

`MrzEvidence` rides on the scanned guest's `Document` (the lines as read and which check
digits passed), so the police side can see the number was machine-read and verified.
`Attachment` rides on the check-in event's payload (`attachments`): a 网证 QR kept opaque
(base64, `needs_online_verification`: only the national platform can verify it, nothing here
does), or a booking reference / URL as text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from terminal.domain import jsonform

# The check digits each ICAO format carries (TD3 also covers the personal number).
MRZ_CHECKS = {
    "TD1": ("document_number", "birth_date", "expiry_date", "composite"),
    "TD2": ("document_number", "birth_date", "expiry_date", "composite"),
    "TD3": ("document_number", "birth_date", "expiry_date", "personal_number", "composite"),
}
NETID = "netid"
KINDS = (NETID, "url", "booking")


@dataclass(frozen=True, slots=True)
class MrzEvidence:
    format: str  # TD1 | TD2 | TD3 | CN_PERMIT
    lines: tuple[str, ...]
    verified: bool  # every check digit passed (False for permits: nothing to check)
    checks_passed: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()  # "field:code", e.g. "birth_date:check_digit"


@dataclass(frozen=True, slots=True)
class Attachment:
    kind: str  # one of KINDS
    text: str | None  # url / booking: the text; netid: None (the payload is opaque)
    payload_b64: str | None = None  # netid: the bytes as scanned
    needs_online_verification: bool = False
    note: str = ""
    source: str = ""  # "serial:...", "image:pyzbar", ...

    def to_json(self) -> dict[str, Any]:
        return jsonform.to_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Attachment:
        return jsonform.from_json(cls, data)
