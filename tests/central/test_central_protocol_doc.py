"""docs/protocol.md is the contract: every wire error code and every endpoint is documented,
and every documented code exists in the code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parents[2]
DOC = (ROOT / "docs" / "protocol.md").read_text("utf-8")
SOURCES = "\n".join(p.read_text("utf-8") for d in ("central", "sync")
                    for p in (ROOT / d).rglob("*.py"))
WIRE_CODES = (
    "invalid_body", "invalid_field", "missing_field", "unsupported_protocol",
    "unsupported_encoding", "missing_signature", "unknown_device", "bad_signature",
    "replayed_nonce", "clock_skew", "token_unknown", "token_used", "token_expired", "wrong_site",
    "wrong_device", "device_disabled", "not_found", "method_not_allowed", "body_too_large",
    "too_many_events", "database_error", "internal", "overloaded", "invalid_event",
    "too_large", "payload_hash_mismatch", "invalid_payload", "header_mismatch", "id_conflict",
    "foreign_stay", "foreign_target",
    "accepted", "duplicate", "rejected", "missing_body_hash", "body_hash_mismatch",
    "body_timeout", "invalid_handover", "same_device", "handover_done",
    "bad_handover_signature",
)


def test_every_wire_code_is_documented_and_real() -> None:
    for code in WIRE_CODES:
        assert f"`{code}" in DOC or f"{code}`" in DOC, f"{code} missing from docs/protocol.md"
        assert f'"{code}"' in SOURCES, f"{code} documented but not in the code"


def test_every_endpoint_is_documented() -> None:
    paths = set(re.findall(r'@app\.(?:get|post)\("([^"]+)"',
                           (ROOT / "central" / "app.py").read_text("utf-8")))
    assert paths == {"/api/v1/time", "/api/v1/enroll", "/api/v1/events", "/api/v1/heartbeat",
                     "/api/v1/handover", "/api/v1/decommission"}
    for path in paths:
        assert path in DOC
