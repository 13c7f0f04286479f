"""GB 11643 check character, ID number cross-checks and the GB 3304 nation table.

Reference: /work/shared/reference/idcard-protocol.md §4. Expected values are written out from the
reference, not computed by the code under test.
"""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

import codetables
from drivers.idcard.codes import (
    check_character,
    has_valid_check_character,
    id_number_issues,
    nation_code,
    nation_name,
    nation_table,
)
from drivers.idcard.reading import Sex

STANDARD_EXAMPLE = "11010519491231002X"  # GB 11643-1999's own example, r = 2


def test_standard_example_check_character() -> None:
    assert check_character(STANDARD_EXAMPLE[:17]) == "X"
    assert has_valid_check_character(STANDARD_EXAMPLE)


def test_lower_case_x_accepted_on_input() -> None:
    assert has_valid_check_character(STANDARD_EXAMPLE.lower())
    assert id_number_issues(STANDARD_EXAMPLE.lower(), date(1949, 12, 31), Sex.FEMALE) == ()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # r = 0..10 maps to "10X98765432" (reference: 0->1, 1->0, 2->X, 3->9 ... 10->2).
        ("00000000000000000", "1"),  # sum 0 -> r 0
        ("00000000000000001", "X"),  # weight of d17 is 2 -> r 2
        ("10000000000000000", "5"),  # weight of d1 is 7 -> r 7 -> "5"
        ("01000000000000000", "3"),  # weight of d2 is 9 -> r 9 -> "3"
        ("00100000000000000", "2"),  # weight of d3 is 10 -> r 10 -> "2"
        ("00000001000000000", "0"),  # weight of d8 is 1 -> r 1 -> "0"
    ],
)
def test_check_character_table(body: str, expected: str) -> None:
    assert check_character(body) == expected


@pytest.mark.parametrize(
    "body", ["1101051949123100", "110105194912310021", "1101051949123100a", "１" * 17]
)
def test_check_character_rejects_bad_bodies(body: str) -> None:
    with pytest.raises(ValueError, match="17 ASCII digits"):
        check_character(body)


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_any_single_digit_change_is_detected(body: str) -> None:
    number = body + check_character(body)
    assert has_valid_check_character(number)
    for position in range(17):
        changed = str((int(body[position]) + 1) % 10)
        altered = body[:position] + changed + body[position + 1 :] + number[17]
        assert not has_valid_check_character(altered)


def test_consistent_number_has_no_issues() -> None:
    assert id_number_issues(STANDARD_EXAMPLE, date(1949, 12, 31), Sex.FEMALE) == ()


def test_wrong_check_digit() -> None:
    assert id_number_issues("110105194912310021", date(1949, 12, 31), Sex.FEMALE) == (
        "check_digit",
    )


def test_birth_date_mismatch() -> None:
    assert id_number_issues(STANDARD_EXAMPLE, date(1949, 12, 30), Sex.FEMALE) == ("birth_date",)


def test_sex_mismatch() -> None:
    # d17 = 2 (even) says female.
    assert id_number_issues(STANDARD_EXAMPLE, date(1949, 12, 31), Sex.MALE) == ("sex",)


@pytest.mark.parametrize("sex", [Sex.UNKNOWN, Sex.UNSPECIFIED])
def test_sex_not_checked_for_codes_0_and_9(sex: Sex) -> None:
    assert id_number_issues(STANDARD_EXAMPLE, date(1949, 12, 31), sex) == ()


def test_all_issues_together_in_order() -> None:
    assert id_number_issues("110105194912310021", date(2000, 1, 1), Sex.MALE) == (
        "check_digit",
        "birth_date",
        "sex",
    )


@pytest.mark.parametrize(
    "number",
    ["", "11010519491231002", "11010519491231002XX", "1101051949123100XX", "USA310080010112",
     "11010519491231002Y", "１１010519491231002X", "110105 19491231002"],
)  # fmt: skip
def test_malformed_numbers_report_format_only(number: str) -> None:
    assert id_number_issues(number, date(1949, 12, 31), Sex.FEMALE) == ("format",)


def test_nation_table_complete_and_versioned() -> None:
    table = nation_table()
    assert table.version
    assert sorted(table.by_code) == [f"{n:02d}" for n in range(1, 57)] + ["97", "98"]
    letters = [n.letter for n in table.by_code.values() if n.letter is not None]
    assert len(letters) == 56 and len(set(letters)) == 56


@pytest.mark.parametrize(
    ("code", "name", "letter"),
    [("01", "汉", "HA"), ("05", "维吾尔", "UG"), ("36", "毛南", "MN"), ("46", "德昂", "DE"),
     ("56", "基诺", "JN"), ("97", "其他", None), ("98", "外国血统中国籍人士", None)],
)  # fmt: skip
def test_nation_names(code: str, name: str, letter: str | None) -> None:
    assert nation_name(code) == name
    assert nation_table().by_code[code].letter == letter


@pytest.mark.parametrize("code", ["00", "57", "96", "99", "1", "", "汉", None])
def test_unknown_nation_code_has_no_name(code: str | None) -> None:
    assert nation_name(code) is None


@pytest.mark.parametrize(
    ("name", "code"),
    [("汉", "01"), ("汉族", "01"), ("德昂", "46"), ("崩龙", "46"), ("崩龙族", "46"),
     ("毛难", "36"), ("毛难族", "36"), ("毛南族", "36"), ("其他", "97")],
)  # fmt: skip
def test_nation_code_by_name_accepts_documented_aliases(name: str, code: str) -> None:
    assert nation_code(name) == code


@pytest.mark.parametrize("name", ["德昴", "芒人", "族", ""])  # a typo and an unofficial group
def test_nation_code_by_name_refuses_undocumented_names(name: str) -> None:
    assert nation_code(name) is None


def test_old_names_never_printed() -> None:
    names = {nation.name for nation in nation_table().by_code.values()}
    assert not names & {"崩龙", "毛难"}


def test_data_file_matches_reference_table_shape() -> None:
    raw = codetables.load("nations")
    assert {"version", "nations", "aliases"} <= set(raw)
    assert raw["aliases"]["崩龙"]["code"] == "46" and raw["aliases"]["毛难"]["code"] == "36"


def test_cross_check_off_checks_only_the_check_character():
    from datetime import date

    from drivers.idcard.codes import check_character, id_number_issues
    from drivers.idcard.reading import Sex

    body = "91100000000000001"  # nothing claimed about birth date or sex
    number = body + check_character(body)
    assert id_number_issues(number, date(1990, 5, 6), Sex.FEMALE, cross_check=False) == ()
    assert id_number_issues(number, date(1990, 5, 6), Sex.FEMALE) != ()
