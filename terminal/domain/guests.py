"""Guests of a stay: identity, document, role in the party, and the links that protect minors."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from drivers.idcard.reading import CardRead
from terminal.domain import jsonform
from terminal.domain.documents import Document, document_from_card

MAIN = "main"
COMPANION = "companion"
ROLES = (MAIN, COMPANION)
ADULT_AGE = 18


@dataclass(frozen=True, slots=True)
class Guardian:
    """For a minor without an accompanying adult: who answers for them, and that they were called.
    """

    name: str
    phone: str
    relationship: str  # key of data/relationships.json
    contacted: bool  # the clerk confirms the guardian was reached


@dataclass(frozen=True, slots=True)
class Guest:
    guest_id: str
    role: str  # MAIN or COMPANION
    name: str  # as printed (Chinese or other script); never rewritten, may be "" on foreign cards
    sex: str  # drivers.idcard.reading.Sex value
    birth_date: date
    nationality: str  # ISO 3166 alpha-3
    document: Document
    surname_en: str | None = None
    given_names_en: str | None = None
    nation_code: str | None = None  # 民族, resident cards
    address: str | None = None
    phone: str | None = None
    accompanied_by: str | None = None  # guest_id of the adult a minor travels with
    relationship: str | None = None  # minor's relationship to that adult
    guardian: Guardian | None = None

    def age_on(self, day: date) -> int:
        years = day.year - self.birth_date.year
        return years - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))

    def is_minor(self, day: date) -> bool:
        return self.age_on(day) < ADULT_AGE

    @property
    def display_name(self) -> str:
        latin = " ".join(p for p in (self.surname_en, self.given_names_en) if p)
        return self.name or latin

    def to_json(self) -> dict[str, Any]:
        return jsonform.to_json(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Guest:
        return jsonform.from_json(cls, data)


def guest_from_card(
    card: CardRead, *, guest_id: str, role: str = MAIN, phone: str | None = None
) -> Guest:
    """A guest from a card reading; names are kept exactly as the card spells them."""
    surname_en, given_en = _split_latin(card.name_en)
    return Guest(
        guest_id=guest_id,
        role=role,
        name=card.name,
        sex=card.sex.value,
        birth_date=card.birth_date,
        nationality=card.nationality or "CHN",
        document=document_from_card(card),
        surname_en=surname_en,
        given_names_en=given_en,
        nation_code=card.nation_code,
        address=card.current_address,
        phone=phone,
    )


def _split_latin(name_en: str | None) -> tuple[str | None, str | None]:
    # Foreign permanent resident cards print "SURNAME, GIVEN NAMES" or "SURNAME GIVEN"; only a
    # comma is an unambiguous separator, so without one the whole name is the surname.
    if not name_en:
        return None, None
    if "," in name_en:
        surname, given = name_en.split(",", 1)
        return surname.strip() or None, given.strip() or None
    return name_en.strip(), None


def with_role(guest: Guest, role: str) -> Guest:
    return replace(guest, role=role)
