"""The code tables every layer shares: document types, countries, sexes, relationships and
nations (民族), as versioned JSON data files in `codetables/data/`.

One copy for everyone: the card driver decodes a card's nation code with the nations table,
the terminal validates a registration against all of them, and the central server writes each
code a terminal sent as its Chinese name (stay page, export, pickers). `drivers` may import
neither `sync` nor `terminal`, and `central` neither `terminal` nor `drivers`, so the tables
live in this package of their own, which imports nothing but the standard library
(tests/test_layers.py). A table update is a data change with its own version; an unknown code
has no name here, and callers show the raw code rather than guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

TABLES = ("document_types", "countries", "sexes", "relationships", "nations")


def load(table: str) -> dict[str, Any]:
    """One table's JSON document as stored (with its "version" and "comment" keys)."""
    if table not in TABLES:
        raise KeyError(f"no code table {table!r}")
    text = resources.files("codetables").joinpath("data", f"{table}.json").read_text("utf-8")
    return json.loads(text)


@dataclass(frozen=True, slots=True)
class Names:
    """Code -> Chinese name, per table: what a reader of a record wants to see."""

    document_types: dict[str, str]
    countries: dict[str, str]
    sexes: dict[str, str]  # keys are the wire values: male, female, unknown, unspecified
    relationships: dict[str, str]
    nations: dict[str, str]  # two digits -> name without 族 ("01" -> "汉")
    passports: frozenset[str]  # document type codes of passports (a visa is expected)


@cache
def names() -> Names:
    """Every table's Chinese names, loaded once per process."""
    types = load("document_types")["types"]
    return Names(
        document_types={k: v["name_zh"] for k, v in types.items()},
        countries={k: v["name_zh"] for k, v in load("countries")["countries"].items()},
        sexes={k: v["name_zh"] for k, v in load("sexes")["sexes"].items()},
        relationships={k: v["name_zh"] for k, v in load("relationships")["relationships"].items()},
        nations={k: v["name"] for k, v in load("nations")["nations"].items()},
        passports=frozenset(k for k, v in types.items() if v.get("passport")),
    )
