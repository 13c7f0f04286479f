"""Card files for the simulator: JSON lists of synthetic cards -> raw text blocks and photos.

    {"version": 1, "comment": "...", "cards": [
        {"label": "...", "card_type": "resident", "name": "测试甲", "sex": "1", ...,
         "appended_addresses": ["..."], "comment": "...", "expected_issues": ["check_digit"]}
    ]}

Each card is the dict `drivers.idcard.cards.encode_text_block` takes plus the optional keys in
`META_KEYS`. Blocks are built when the file is loaded, so a typo or an over-long field fails at
start-up with the card's position and label, not in the middle of a demo.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from drivers.idcard.cards import encode_text_block, synthetic_photo

CARD_FILE_VERSION = 1
META_KEYS = frozenset({"label", "comment", "appended_addresses", "expected_issues"})


def default_card_file() -> Path:
    """The synthetic cards shipped with the simulator."""
    return Path(str(resources.files("drivers.sim").joinpath("cards", "synthetic.json")))


def load_card_file(path: str | Path | None = None) -> list[tuple[bytes, bytes, dict[str, Any]]]:
    """(text block, photo, card entry) per card; the photo is seeded by the card's label.

    The entry is returned whole (fields and meta keys), so the simulator can also serve its
    appended addresses and label. Raises ValueError on a malformed file or card.
    """
    source = Path(path) if path is not None else default_card_file()
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"{source}: cannot read card file: {err}") from err
    if not isinstance(document, dict) or document.get("version") != CARD_FILE_VERSION:
        raise ValueError(f"{source}: expected a card file of version {CARD_FILE_VERSION}")
    entries = document.get("cards")
    if not isinstance(entries, list):
        raise ValueError(f"{source}: expected a list under 'cards'")
    cards: list[tuple[bytes, bytes, dict[str, Any]]] = []
    for index, entry in enumerate(entries):
        label = entry.get("label", f"card {index}") if isinstance(entry, dict) else None
        try:
            if not isinstance(entry, dict):
                raise ValueError("expected an object")
            fields = {k: v for k, v in entry.items() if k not in META_KEYS}
            text_block = encode_text_block(fields)
        except ValueError as err:
            raise ValueError(f"{source}: card {index} ({label}): {err}") from err
        # Seed by label (else position): each guest gets a distinct photo hash.
        cards.append((text_block, synthetic_photo(label), dict(entry)))
    return cards
