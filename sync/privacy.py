"""Masking of personal data for logs and lists (PIPL): never print a full ID number or name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Keys whose values are personal data in any dump, trace or diagnostic.
PERSONAL_KEYS = frozenset(
    {
        "name", "name_en", "name_zh", "surname", "given_names", "id_number", "document_number",
        "address", "appended_addresses", "birth_date", "pass_number", "guardian_name",
        "guardian_phone", "phone", "text_block_b64", "photo_wlt_b64", "fingerprint_b64",
        "visa_number",
    }
)


def mask_id_number(number: str | None) -> str:
    """`4405**********123X`: first four and last four characters kept for short numbers' sake."""
    if not number:
        return ""
    if len(number) <= 6:
        return "*" * len(number)
    keep_head = 4 if len(number) >= 12 else 2
    keep_tail = 4 if len(number) >= 12 else 2
    return number[:keep_head] + "*" * (len(number) - keep_head - keep_tail) + number[-keep_tail:]


def mask_name(name: str | None) -> str:
    """`张*`, `张**`; Latin names keep the first letter of each word: `J*** S****`."""
    if not name:
        return ""
    if any(ch.isspace() for ch in name.strip()):
        return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())
    return name[0] + "*" * max(len(name) - 1, 1)


def redact(data: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `data` with every personal value masked, recursively."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out[key] = redact(value)
        elif isinstance(value, list):
            out[key] = [redact(v) if isinstance(v, Mapping) else _mask(key, v) for v in value]
        else:
            out[key] = _mask(key, value)
    return out


def _mask(key: str, value: Any) -> Any:
    if key not in PERSONAL_KEYS or value is None:
        return value
    if key in {"id_number", "document_number", "pass_number", "visa_number"}:
        return mask_id_number(str(value))
    if key in {"name", "name_en", "name_zh", "surname", "given_names", "guardian_name"}:
        return mask_name(str(value))
    if key == "birth_date":
        return str(value)[:4] + "-**-**"
    return "***"
