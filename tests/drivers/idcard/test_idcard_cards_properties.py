"""Hypothesis: encode -> decode round trips per layout; blocks raise only CardDecodeError."""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.idcard.cards import decode_text_block, encode_text_block, synthetic_photo
from drivers.idcard.codes import id_number_issues, nation_name
from drivers.idcard.errors import CardDecodeError
from drivers.idcard.reading import CardType, Sex

PHOTO = synthetic_photo()
# Any BMP character a card could carry: no surrogates (UCS-2 cannot), no control characters.
BMP_CHARS = st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs", "Cc"))


def text(max_size: int) -> st.SearchStrategy[str]:
    """Field text without trailing padding, which decoding trims by design."""
    return st.text(BMP_CHARS, max_size=max_size).map(lambda s: s.rstrip(" "))


DATES = st.dates(min_value=date(1, 1, 1))
SEX_CODES = st.sampled_from(["0", "1", "2", "9"])
VALID_UNTIL = st.one_of(DATES, st.just("长期"))
ID_18 = st.one_of(text(18), st.text("0123456789X", min_size=18, max_size=18))

COMMON = {"sex": SEX_CODES, "birth_date": DATES, "valid_from": DATES, "valid_until": VALID_UNTIL}
LAYOUT_FIELDS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "resident": {
        "name": text(15), "nation_code": text(2), "address": text(35), "id_number": ID_18,
        "authority": text(15),
    },
    "J": {
        "name": text(15), "address": text(35), "id_number": ID_18, "authority": text(15),
        "pass_number": text(9), "issue_count": st.none() | st.integers(0, 99),
    },
    "I": {
        "name_en": text(60), "name": text(15), "id_number": text(15), "nationality": text(3),
        "card_version_code": text(2), "authority": text(4),
    },
    "Y": {
        "name": text(15), "name_en": text(46), "id_number": ID_18, "nationality": text(3),
        "issue_count": st.none() | st.integers(0, 99), "previous_number_link": text(3),
    },
}  # fmt: skip
HEADER = {
    "resident": {"card_type": "resident"},
    "J": {"card_type": "hk_mo_tw_residence"},
    "I": {"card_type": "foreign_permanent", "card_version": "2017"},
    "Y": {"card_type": "foreign_permanent", "card_version": "2023"},
}


def cards(layout: str) -> st.SearchStrategy[dict[str, Any]]:
    fields = st.fixed_dictionaries({**COMMON, **LAYOUT_FIELDS[layout]})
    return fields.map(lambda f: {**HEADER[layout], **f})


def check_round_trip(fields: dict[str, Any]) -> None:
    card = decode_text_block(encode_text_block(fields), PHOTO)
    sex = Sex.from_code(fields["sex"])
    assert card.sex is sex
    assert card.birth_date == fields["birth_date"]
    assert card.valid_from == fields["valid_from"]
    if fields["valid_until"] == "长期":
        assert card.long_term and card.valid_until is None
    else:
        assert not card.long_term and card.valid_until == fields["valid_until"]
    assert card.id_number == fields["id_number"]
    assert card.name == fields["name"]
    assert card.name_en == (fields.get("name_en") or None)
    assert card.address == (fields.get("address") or None)
    assert card.issue_count == fields.get("issue_count")
    if "nationality" in fields:
        assert card.nationality == (fields["nationality"] or None)
    if fields.get("card_version") == "2017":
        assert card.id_number_valid is None and card.id_number_issues == ()
        assert card.authority == (fields["authority"] or None)
    elif fields.get("card_version") == "2023":
        # Only the leading 9 and the check character are documented for these numbers.
        issues = id_number_issues(fields["id_number"], fields["birth_date"], sex, cross_check=False)
        if not fields["id_number"].startswith("9") and "format" not in issues:
            issues = ("format", *issues)
        assert card.id_number_issues == issues and card.id_number_valid is (not issues)
    else:
        issues = id_number_issues(fields["id_number"], fields["birth_date"], sex)
        assert card.id_number_issues == issues and card.id_number_valid is (not issues)


@given(cards("resident"))
def test_resident_round_trip(fields: dict[str, Any]) -> None:
    check_round_trip(fields)
    card = decode_text_block(encode_text_block(fields), PHOTO)
    assert card.card_type is CardType.RESIDENT and card.nationality == "CHN"
    assert card.nation_code == (fields["nation_code"] or None)
    assert card.nation == nation_name(card.nation_code)
    assert card.authority == (fields["authority"] or None)


@given(cards("J"))
def test_hk_mo_tw_permit_round_trip(fields: dict[str, Any]) -> None:
    check_round_trip(fields)
    card = decode_text_block(encode_text_block(fields), PHOTO)
    assert card.card_type is CardType.HK_MO_TW_RESIDENCE and card.nationality is None
    assert card.pass_number == (fields["pass_number"] or None)


@given(cards("I"))
def test_foreign_2017_round_trip(fields: dict[str, Any]) -> None:
    check_round_trip(fields)


@given(cards("Y"))
def test_foreign_2023_round_trip(fields: dict[str, Any]) -> None:
    check_round_trip(fields)


def decode_or_card_error(block: bytes) -> None:
    with contextlib.suppress(CardDecodeError):
        decode_text_block(block, PHOTO)


@given(st.binary(min_size=256, max_size=256))
def test_arbitrary_blocks_raise_only_card_decode_error(block: bytes) -> None:
    decode_or_card_error(block)


@given(st.binary(min_size=256, max_size=256), st.sampled_from(["J", "I", "Y", " ", "\x00"]))
def test_arbitrary_blocks_of_each_layout_raise_only_card_decode_error(
    block: bytes, marker: str
) -> None:
    decode_or_card_error(block[:248] + marker.encode("utf-16-le") + block[250:])


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(HEADER)).flatmap(cards),
    st.lists(st.tuples(st.integers(0, 255), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_corrupted_valid_blocks_raise_only_card_decode_error(
    fields: dict[str, Any], corruption: list[tuple[int, int]]
) -> None:
    block = bytearray(encode_text_block(fields))
    for offset, value in corruption:
        block[offset] = value
    decode_or_card_error(bytes(block))
