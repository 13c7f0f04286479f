"""The simulator's synthetic card file: coverage of layouts and cases, and loader errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from drivers.idcard.cards import decode_text_block
from drivers.idcard.codes import check_character
from drivers.idcard.reading import CardRead, CardType
from drivers.sim.cardfile import default_card_file, load_card_file


@pytest.fixture(scope="module")
def decoded() -> list[tuple[CardRead, dict]]:
    cards = []
    for text, photo, entry in load_card_file():
        addresses = entry.get("appended_addresses", ())
        cards.append((decode_text_block(text, photo, appended_addresses=addresses), entry))
    return cards


def test_default_file_ships_with_the_package() -> None:
    assert default_card_file().is_file()


def test_at_least_eight_cards_over_all_four_layouts(decoded: list[tuple[CardRead, dict]]) -> None:
    assert len(decoded) >= 8
    layouts = {(card.card_type, card.card_version) for card, _ in decoded}
    assert layouts == {
        (CardType.RESIDENT, None),
        (CardType.HK_MO_TW_RESIDENCE, None),
        (CardType.FOREIGN_PERMANENT, "2017"),
        (CardType.FOREIGN_PERMANENT, "2023"),
    }


def test_required_cases_present(decoded: list[tuple[CardRead, dict]]) -> None:
    cards = [card for card, _ in decoded]
    residents = [c for c in cards if c.card_type is CardType.RESIDENT]
    assert any(c.long_term and c.valid_until is None for c in residents)
    assert any(len(c.name) == 14 for c in residents)
    assert any(c.nation_code not in (None, "01") and c.nation for c in residents)
    assert any(c.sex.code == "2" for c in residents)
    permits = [c for c in cards if c.card_type is CardType.HK_MO_TW_RESIDENCE]
    assert {c.id_number[:6] for c in permits} >= {"810000", "830000"}
    assert any(c.card_version == "2017" and c.name_en and " " in c.name_en for c in cards)
    assert any(c.card_version == "2023" and c.name_en and len(c.name_en) > 35 for c in cards)
    assert any(c.appended_addresses for c in cards)


def test_every_number_is_consistent_except_the_flagged_one(
    decoded: list[tuple[CardRead, dict]],
) -> None:
    flagged = [(card, entry) for card, entry in decoded if entry.get("expected_issues")]
    assert len(flagged) == 1
    card, entry = flagged[0]
    assert "WRONG check digit" in entry["comment"]
    assert card.id_number_issues == tuple(entry["expected_issues"]) == ("check_digit",)
    assert card.id_number[17] != check_character(card.id_number[:17])
    for card, entry in decoded:
        if entry is not flagged[0][1] and card.card_version != "2017":
            assert card.id_number_valid is True, entry["label"]


def test_synthetic_content_only(decoded: list[tuple[CardRead, dict]]) -> None:
    for card, entry in decoded:
        for address in (card.address, *card.appended_addresses):
            assert address is None or "测试" in address, entry["label"]
        assert "测试" in card.name or card.name in ("王小明", "李小红"), entry["label"]


def test_labels_and_photos_are_distinct(decoded: list[tuple[CardRead, dict]]) -> None:
    labels = [entry["label"] for _, entry in decoded]
    assert len(set(labels)) == len(labels)
    assert len({card.photo_sha256 for card, _ in decoded}) == len(decoded)


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "cards.json"
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    return path


def test_loader_names_the_bad_card(tmp_path: Path) -> None:
    document = json.loads(default_card_file().read_text(encoding="utf-8"))
    document["cards"][1]["name"] = "测" * 16
    with pytest.raises(ValueError, match=r"card 1 \(resident, 14-char name.*name: at most 15"):
        load_card_file(write(tmp_path, document))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"version": 2, "cards": []}, "version 1"),
        ([], "version 1"),
        ({"version": 1}, "list under 'cards'"),
        ({"version": 1, "cards": ["x"]}, "card 0 .*expected an object"),
    ],
)
def test_loader_refuses_malformed_files(tmp_path: Path, document: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_card_file(write(tmp_path, document))


def test_loader_refuses_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read card file"):
        load_card_file(tmp_path / "absent.json")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot read card file"):
        load_card_file(tmp_path / "broken.json")
