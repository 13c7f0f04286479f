"""MRZ parser against the ICAO 9303 specimens (fictional UTOPIA documents) and broken variants."""

from __future__ import annotations

from datetime import date

import pytest

from drivers.barcode import mrz
from drivers.barcode.mrzfields import check_digit

TODAY = date(2026, 11, 28)

TD3 = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10"
)
TD2 = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6"
TD1 = (
    "I<UTOD231458907<<<<<<<<<<<<<<<\n"
    "7408122F1204159UTO<<<<<<<<<<<6\n"
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
)
# 9303 part 5: a 12-character document number continues in optional data 1.
TD1_LONG = (
    "I<UTOD23145890<7349<<<<<<<<<<<\n"
    "7408122F1204159UTO<<<<<<<<<<<6\n"
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"
)


def parse(text: str) -> mrz.MrzResult:
    result = mrz.parse(text, today=TODAY)
    assert result is not None
    return result


def replace_at(text: str, line: int, column: int, char: str) -> str:
    lines = text.split("\n")
    lines[line] = lines[line][:column] + char + lines[line][column + 1 :]
    return "\n".join(lines)


@pytest.mark.parametrize(
    ("text", "kind", "number"),
    [(TD3, "TD3", "L898902C3"), (TD2, "TD2", "D23145890"), (TD1, "TD1", "D23145890"),
     (TD1_LONG, "TD1", "D23145890734")],
)
def test_specimens_parse_and_verify(text, kind, number):
    result = parse(text)
    assert result.format == kind
    assert result.valid, result.problems
    guest = result.guest()
    assert guest == {
        "surname": "ERIKSSON",
        "given_names": "ANNA MARIA",
        "nationality": "UTO",
        "document_type": text[0],
        "document_number": number,
        "birth_date": "1974-08-12",
        "sex": "F",
        "expiry_date": "2012-04-15",
        "issuing_state": "UTO",
        "mrz_verified": True,
        "mrz_problems": ["expiry_date:expired"],  # a warning: the specimen expired in 2012
    }


def test_td3_personal_number_and_check_digit_arithmetic():
    assert parse(TD3).fields["personal_number"] == "ZE184226B"
    assert check_digit("L898902C3") == 6
    assert check_digit("D23145890734") == 9
    assert check_digit("<<<<<<<<<<<<<<") == 0
    assert check_digit("abc") is None


# Every check digit of each specimen, wrong by one: exactly that field (and the composite when
# the composite covers that check digit) is reported, by name.
@pytest.mark.parametrize(
    ("text", "line", "column", "expected"),
    [
        (TD3, 1, 9, {"document_number", "composite"}),
        (TD3, 1, 19, {"birth_date", "composite"}),
        (TD3, 1, 27, {"expiry_date", "composite"}),
        (TD3, 1, 42, {"personal_number", "composite"}),
        (TD3, 1, 43, {"composite"}),
        (TD2, 1, 9, {"document_number", "composite"}),
        (TD2, 1, 19, {"birth_date", "composite"}),
        (TD2, 1, 27, {"expiry_date", "composite"}),
        (TD2, 1, 35, {"composite"}),
        (TD1, 0, 14, {"document_number", "composite"}),
        (TD1, 1, 6, {"birth_date", "composite"}),
        (TD1, 1, 14, {"expiry_date", "composite"}),
        (TD1, 1, 29, {"composite"}),
        (TD1_LONG, 0, 18, {"document_number", "composite"}),
    ],
)
def test_each_wrong_check_digit_is_named(text, line, column, expected):
    original = text.split("\n")[line][column]
    wrong = str((int(original) + 1) % 10)
    result = parse(replace_at(text, line, column, wrong))
    assert not result.valid
    assert result.failing_fields == expected
    messages = [p.message for p in result.problems if p.code == "check_digit"]
    assert any(f"got '{wrong}'" in m for m in messages)


def test_letter_o_in_a_date_is_flagged_not_fixed():
    result = parse(replace_at(TD3, 1, 15, "O"))  # birth 740812 -> 74O812
    assert "letter_o" in {p.code for p in result.problems if p.field == "birth_date"}
    assert result.fields["birth_date"] is None
    assert result.failing_fields == {"birth_date", "composite"}


def test_letter_o_in_a_check_digit_is_flagged():
    text = replace_at(replace_at(TD2, 1, 35, "O"), 1, 9, "7")
    result = parse(text)
    assert [p.code for p in result.problems if p.field == "composite"] == ["letter_o"]


def test_o_for_zero_in_document_number_gets_a_hint():
    # D231458907 -> D231458907 with the 0 of "890" read as O: the check fails and the parser
    # says it would pass with 0; the number itself is reported as read.
    result = parse(replace_at(TD2, 1, 8, "O"))
    assert result.fields["document_number"] == "D2314589O"
    hints = [p for p in result.problems if p.code == "letter_o"]
    assert hints and hints[0].severity == "warning" and hints[0].field == "document_number"
    assert result.failing_fields == {"document_number", "composite"}


def test_month_13_is_a_malformed_date_not_an_exception():
    # Recompute the date's own check so only the date itself (and the composite) is wrong.
    text = replace_at(TD3, 1, 15, "1")
    text = replace_at(text, 1, 16, "3")  # 741312
    text = replace_at(text, 1, 19, str(check_digit("741312")))
    result = parse(text)
    codes = {(p.field, p.code) for p in result.problems}
    assert ("birth_date", "malformed_date") in codes
    assert result.fields["birth_date"] is None
    # The composite happens to still add up here (both changed values cancel out mod 10).
    assert "birth_date" in result.failing_fields


@pytest.mark.parametrize(
    "noisy",
    [
        TD3.replace("\n", "\r\n"),
        TD3.replace("\n", "\r"),
        "\x02" + TD3.replace("\n", "\r\n") + "\r\n\x03",
        "\n\n " + TD3.replace("\n", " \n\t") + "\n\n",
        TD3.replace("\n", ""),  # one run-together block (some readers drop line ends)
        TD3.lower(),
        "\x00" + TD3[:10] + "\x1b" + TD3[10:],
    ],
)
def test_line_noise_is_normalised(noisy):
    result = parse(noisy)
    assert result.format == "TD3"
    assert result.valid


def test_not_an_mrz():
    assert mrz.parse("hello world", today=TODAY) is None
    assert mrz.parse("", today=TODAY) is None
    assert not mrz.looks_like_mrz("https://example.org/" + "a" * 68)
    assert mrz.looks_like_mrz(TD1)


def test_bad_characters_and_fields_are_reported():
    result = parse(replace_at(replace_at(TD3, 1, 20, "Q"), 1, 10, "1"))
    fields = result.failing_fields
    assert {"sex", "nationality"} <= fields
    assert result.fields["sex"] is None


def test_unknown_birth_day_is_a_warning_with_the_check_still_run():
    fields_text = replace_at(replace_at(TD3, 1, 17, "<"), 1, 18, "<")  # 7408<<
    result = parse(fields_text)
    assert ("birth_date", "unknown_part") in {(p.field, p.code) for p in result.problems}
    assert result.fields["birth_date"] is None


def test_century_rules():
    text = replace_at(TD3, 1, 21, "3")  # expiry 320415
    result = parse(text)
    assert result.fields["expiry_date"] == date(2032, 4, 15)
    assert parse(TD3).fields["birth_date"].year == 1974


def test_chinese_travel_permit_is_prefill_only():
    # Shape only (synthetic): a CS permit whose columns we do not claim to know.
    text = (
        "CSH12345678<2<2802260<8111183<\n"
        "0000000000000000000000000000<0\n"
        "ZHANG<<SAN<<<<<<<<<<<<<<<<<<<<"
    )
    result = parse(text)
    assert result.format == "CN_PERMIT"
    assert not result.verified and not result.valid
    assert result.fields["permit_kind"] == "hk_macau"
    assert result.fields["document_number"] == "H12345678"
    assert (result.fields["surname"], result.fields["given_names"]) == ("ZHANG", "SAN")
    assert result.guest()["mrz_verified"] is False
    assert "prefill only" in result.notes[0]


def test_taiwan_permit_and_valid_icao_c_type_stays_icao():
    taiwan = parse("CT12345678" + "<" * 20 + "\n" + "<" * 30 + "\nLIN<<MEI" + "<" * 22)
    assert taiwan.format == "CN_PERMIT" and taiwan.fields["document_number"] == "12345678"
    from drivers.barcode.mrzbuild import MrzFields, td1

    icao = parse(td1(MrzFields(document_type="CS", document_number="X1234567")))
    assert icao.format == "TD1" and icao.valid


# ICAO 9303 part 7 specimens (fictional UTOPIA visas; nationality XXX = unspecified).
MRVA = (
    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\n"
    "L8988901C4XXX4009078F96121096ZE184226B<<<<<<"
)
MRVB = "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nL8988901C4XXX4009078F9612109<<<<<<<<"


@pytest.mark.parametrize(("text", "kind", "optional"),
                         [(MRVA, "MRV-A", "6ZE184226B"), (MRVB, "MRV-B", None)])
def test_visa_specimens_are_visas_not_failed_passports(text, kind, optional):
    result = parse(text)
    assert result.format == kind and result.visa
    assert result.valid, result.problems  # no composite check digit exists on a visa
    assert result.fields["document_number"] == "L8988901C"  # the visa number
    assert result.fields["optional_data"] == optional  # issuer's data, no check digit
    assert result.fields["nationality"] == "XXX"
    assert result.fields["birth_date"] == date(1940, 9, 7)
    assert "composite" not in {p.field for p in result.problems}


@pytest.mark.parametrize(("column", "field"), [(9, "document_number"), (19, "birth_date"),
                                                (27, "expiry_date")])
def test_visa_wrong_check_digit_names_its_field_only(column, field):
    for text in (MRVA, MRVB):
        wrong = replace_at(text, 1, column, str((int(text.split("\n")[1][column]) + 1) % 10))
        result = parse(wrong)
        assert result.visa and not result.valid
        assert result.failing_fields == {field}


def test_visa_optional_data_is_not_checked():
    result = parse(replace_at(MRVA, 1, 30, "Q"))
    assert result.valid and result.fields["optional_data"] == "6ZQ184226B"


def test_td2_long_document_number():
    # 9303 part 6: as in TD1, `<` at the check-digit position and the number goes on in the
    # optional data with the whole number's check digit (synthetic: mrzbuild computes it).
    text = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD23145890<UTO7408122F12041597349<235"
    assert check_digit("D23145890734") == 9
    result = parse(text)
    assert result.format == "TD2" and result.valid, result.problems
    assert result.fields["document_number"] == "D23145890734"
    assert result.fields["optional_data"] == "23"
    broken = parse(replace_at(text, 1, 29, "8"))  # the continuation misread
    assert broken.failing_fields == {"document_number", "composite"}


@pytest.mark.parametrize(
    "text",
    [
        # The pre-2021 French identity card: 2 x 36, but not ICAO's TD2 layout.
        "IDFRADOE<<<<<<<<<<<<<<<<<<<<<<<<<<<<\n8806923102858CORINNE<<<<<<<6512068F6",
        # MRZ-shaped lines of no ICAO size.
        "AB<UTO<<<<<<<<<<<<<<<<<<<<<<<\n12345<<<<<<<<<<<<<<<<<<<<<<<<",
        # 2 x 44 with a document code that is not P or V, failing the TD3 checks.
        "XXUTOERIKSSON<<ANNA<<<<<<<<<<<<<<<<<<<<<<<<<\n" + "1" * 44,
    ],
)
def test_unknown_layouts_are_unsupported_not_failed_passports(text):
    result = parse(text)
    assert result.format == mrz.UNSUPPORTED
    assert not result.verified and not result.valid
    assert [p.code for p in result.problems] == ["unsupported"]


def test_unexpected_code_with_every_check_passing_stays_icao():
    text = TD3.replace("P<UTO", "X<UTO", 1)
    assert parse(text).format == "TD3" and parse(text).valid
