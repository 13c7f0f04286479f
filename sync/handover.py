"""The hand-over file: a broken terminal's undelivered events, for its replacement to deliver.

    {"format": "anju-handover/1", "device_id": OLD, "site_code": SITE, "exported_at": UTC,
     "parts": [{"events": [WireEvent JSON, ...], "signature": HEX}, ...],
     "rejected": [{"event_id", "code", "message"}, ...]}          (for the technician only)

Each part is at most one upload batch and is signed on its own by the OLD device's secret:

    signature = hex(HMAC-SHA256(key(old secret), "anju-handover/1\\n" DEVICE "\\n" SITE
                                                 "\\n" SHA256(canonical events)))

(canonical: compact UTF-8 JSON with sorted keys), so the server, which holds that secret,
knows the events are the old device's own, unaltered, whoever carries the file. The events keep
their own device id, sequence and chain hashes; the replacement sends each part in a request
signed with ITS secret (POST /api/v1/handover, docs/protocol.md). The file holds no secret: it
cannot sign anything new. It does hold the guests' personal data, as the SD card did.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sync.errors import ProtocolError
from sync.signing import secret_key

FORMAT = "anju-handover/1"
HANDOVER_PATH = "/api/v1/handover"
DECOMMISSION_PATH = "/api/v1/decommission"


def events_digest(events: Sequence[dict[str, Any]]) -> str:
    text = json.dumps(list(events), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def part_signature(
    secret: str, device_id: str, site_code: str, events: Sequence[dict[str, Any]]
) -> str:
    message = f"{FORMAT}\n{device_id}\n{site_code}\n{events_digest(events)}".encode()
    return hmac.new(secret_key(secret), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Part:
    """One signed part as the replacement sends it (the body of POST /api/v1/handover, with
    the sender's clock beside it)."""

    device_id: str
    site_code: str
    events: tuple[dict[str, Any], ...]
    signature: str

    def verify(self, secret: str) -> bool:
        expected = part_signature(secret, self.device_id, self.site_code, self.events)
        return hmac.compare_digest(expected, self.signature)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "device_id": self.device_id,
            "site_code": self.site_code,
            "events": list(self.events),
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, doc: Any) -> Part:
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ProtocolError(
                f"not a hand-over part ({FORMAT})", code="invalid_handover", field="format"
            )
        fields = (doc.get("device_id"), doc.get("site_code"), doc.get("signature"))
        events = doc.get("events")
        if (
            not all(isinstance(f, str) and 0 < len(f) <= 128 for f in fields)
            or not isinstance(events, list)
            or not all(isinstance(e, dict) for e in events)
        ):
            raise ProtocolError(
                "hand-over part: device_id, site_code, signature and a list of events are required",
                code="invalid_handover",
                field="events",
            )
        return cls(str(fields[0]), str(fields[1]), tuple(events), str(fields[2]))


def bundle(
    device_id: str,
    site_code: str,
    secret: str,
    exported_at: str,
    batches: Sequence[Sequence[dict[str, Any]]],
    rejected: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "device_id": device_id,
        "site_code": site_code,
        "exported_at": exported_at,
        "parts": [
            {"events": list(b), "signature": part_signature(secret, device_id, site_code, b)}
            for b in batches
        ],
        "rejected": list(rejected),
    }


def parts(doc: Any) -> list[Part]:
    """The parts of a hand-over file (read by `anju handover import`)."""
    if (
        not isinstance(doc, dict)
        or doc.get("format") != FORMAT
        or not isinstance(doc.get("parts"), list)
    ):
        raise ProtocolError(
            f"not a hand-over file ({FORMAT})", code="invalid_handover", field="format"
        )
    return [
        Part.from_json(
            {
                "format": FORMAT,
                "device_id": doc.get("device_id"),
                "site_code": doc.get("site_code"),
                **p,
            }
        )
        for p in doc["parts"]
    ]
