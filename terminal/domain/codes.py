"""Versioned code tables (document types, countries, sexes, relationships, nations) as data.

Each table is a JSON file of the shared `codetables` package with a "version" key (the card
driver and the central server read the same files). The versions in force are
written into every check-in, so a record says which tables it was validated against.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import codetables
from drivers.idcard.codes import nation_table


def _load(name: str) -> dict[str, Any]:
    return codetables.load(name.removesuffix(".json"))


@dataclass(frozen=True, slots=True)
class DocumentType:
    code: str
    name_zh: str
    name_en: str
    entry: tuple[str, ...]  # "card" and/or "manual"
    card_type: str | None  # drivers.idcard CardType value when read from a card
    id_number: bool  # number is an 18-character GB 11643 number
    foreign: bool  # 境外 guest: nationality required
    passport: bool


@dataclass(frozen=True, slots=True)
class CodeTables:
    document_types: dict[str, DocumentType]
    countries: dict[str, dict[str, str]]
    sexes: dict[str, dict[str, str]]
    relationships: dict[str, dict[str, str]]
    nations: dict[str, str]  # code -> name
    versions: dict[str, str]

    def document_type_for_card(self, card_type: str) -> DocumentType:
        for doc_type in self.document_types.values():
            if doc_type.card_type == card_type:
                return doc_type
        raise KeyError(f"no document type for card type {card_type!r}")


@cache
def code_tables() -> CodeTables:
    """All tables, loaded once per process."""
    docs = _load("document_types.json")
    countries = _load("countries.json")
    sexes = _load("sexes.json")
    relationships = _load("relationships.json")
    nations = nation_table()
    document_types = {
        code: DocumentType(
            code=code,
            name_zh=entry["name_zh"],
            name_en=entry["name_en"],
            entry=tuple(entry["entry"]),
            card_type=entry.get("card_type"),
            id_number=bool(entry.get("id_number")),
            foreign=bool(entry.get("foreign")),
            passport=bool(entry.get("passport")),
        )
        for code, entry in docs["types"].items()
    }
    return CodeTables(
        document_types=document_types,
        countries=countries["countries"],
        sexes=sexes["sexes"],
        relationships=relationships["relationships"],
        nations={code: nation.name for code, nation in nations.by_code.items()},
        versions={
            "document_types": str(docs["version"]),
            "countries": str(countries["version"]),
            "sexes": str(sexes["version"]),
            "relationships": str(relationships["version"]),
            "nations": nations.version,
        },
    )
