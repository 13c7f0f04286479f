"""The typed result of reading one card: what every layer above the driver consumes.

`CardRead.to_json()` is the JSON form printed by `anju card read --json --unmasked` and read back by
`anju stays check-in --card FILE`; `cards.card_from_json()` reverses it, decoding the raw text
block again rather than trusting the printed fields. This module is the value type only: it
imports no decoder (cards.py imports it, never the reverse).
"""

from __future__ import annotations

import base64
import enum
import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any


class CardType(enum.StrEnum):
    RESIDENT = "resident"
    HK_MO_TW_RESIDENCE = "hk_mo_tw_residence"
    FOREIGN_PERMANENT = "foreign_permanent"


class Sex(enum.StrEnum):
    """GB/T 2261.1 sex codes; 0 and 9 stay distinct."""

    UNKNOWN = "unknown"  # code 0
    MALE = "male"  # code 1
    FEMALE = "female"  # code 2
    UNSPECIFIED = "unspecified"  # code 9

    @property
    def code(self) -> str:
        return _SEX_CODES[self]

    @classmethod
    def from_code(cls, code: str) -> Sex:
        for sex, sex_code in _SEX_CODES.items():
            if sex_code == code:
                return sex
        raise ValueError(f"sex code: expected one of 0, 1, 2, 9, got {code!r}")


_SEX_CODES = {Sex.UNKNOWN: "0", Sex.MALE: "1", Sex.FEMALE: "2", Sex.UNSPECIFIED: "9"}

TEXT_BLOCK_SIZE = 256
PHOTO_SIZE = 1024


@dataclass(frozen=True, slots=True)
class CardRead:
    """One card as read: decoded fields plus the raw bytes kept verbatim."""

    card_type: CardType
    card_version: str | None  # "2017" / "2023" for foreign permanent resident cards
    name: str  # Chinese name; may be empty on foreign cards
    name_en: str | None
    sex: Sex
    nation_code: str | None  # GB 3304 two digits, resident cards only
    nation: str | None  # e.g. "汉"
    nationality: str | None  # ISO 3166-1 alpha-3; "CHN" for resident cards
    birth_date: date
    address: str | None
    id_number: str
    id_number_valid: bool | None  # None where no check applies (2017 foreign cards)
    id_number_issues: tuple[str, ...]  # e.g. ("check_digit", "birth_date", "sex")
    authority: str | None  # issuing authority name (or accepting-authority code, 2017 foreign)
    valid_from: date
    valid_until: date | None  # None when long-term
    long_term: bool
    pass_number: str | None  # HK/Macau/Taiwan permit: the travel-pass number
    issue_count: int | None  # HK/Macau/Taiwan permit: issue count; 2023 foreign card: renewals
    text_block: bytes = field(repr=False)
    photo_wlt: bytes = field(repr=False)
    fingerprint: bytes | None = field(default=None, repr=False)
    appended_addresses: tuple[str, ...] = ()
    sam_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)  # layout-specific leftovers, verbatim

    @property
    def photo_sha256(self) -> str:
        return hashlib.sha256(self.photo_wlt).hexdigest()

    @property
    def current_address(self) -> str | None:
        """The newest appended address if the card has one, else the printed address."""
        return self.appended_addresses[-1] if self.appended_addresses else self.address

    def to_json(self) -> dict[str, Any]:
        return {
            "card_type": self.card_type.value,
            "card_version": self.card_version,
            "name": self.name,
            "name_en": self.name_en,
            "sex": self.sex.value,
            "nation": self.nation,
            "nation_code": self.nation_code,
            "nationality": self.nationality,
            "birth_date": self.birth_date.isoformat(),
            "address": self.address,
            "appended_addresses": list(self.appended_addresses),
            "id_number": self.id_number,
            "id_number_valid": self.id_number_valid,
            "id_number_issues": list(self.id_number_issues),
            "authority": self.authority,
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "long_term": self.long_term,
            "pass_number": self.pass_number,
            "issue_count": self.issue_count,
            "photo_sha256": self.photo_sha256,
            "sam_id": self.sam_id,
            "extra": dict(self.extra),
            "text_block_b64": base64.b64encode(self.text_block).decode("ascii"),
            "photo_wlt_b64": base64.b64encode(self.photo_wlt).decode("ascii"),
            "fingerprint_b64": (
                base64.b64encode(self.fingerprint).decode("ascii") if self.fingerprint else None
            ),
        }
