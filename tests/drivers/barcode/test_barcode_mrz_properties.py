"""Hypothesis: generate valid MRZs, mutate one character, the parser flags exactly the checks
that cover that character (and nothing when no check covers it)."""

from __future__ import annotations

from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from drivers.barcode import mrz
from drivers.barcode.mrzbuild import BUILDERS, MrzFields
from drivers.barcode.mrzfields import char_value

TODAY = date(2026, 11, 28)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ALNUM = "0123456789" + LETTERS
MRZ_CHARS = ALNUM + "<"

DOC = {"document_number", "composite"}
BIRTH = {"birth_date", "composite"}
EXPIRY = {"expiry_date", "composite"}
COMPOSITE = {"composite"}

# (line, first column, last column inclusive) -> the checks covering those characters.
COVERAGE = {
    "TD3": [(1, 0, 9, DOC), (1, 13, 19, BIRTH), (1, 21, 27, EXPIRY),
            (1, 28, 42, {"personal_number", "composite"}), (1, 43, 43, COMPOSITE)],
    "TD2": [(1, 0, 9, DOC), (1, 13, 19, BIRTH), (1, 21, 27, EXPIRY), (1, 28, 35, COMPOSITE)],
    "TD1": [(0, 5, 14, DOC), (0, 15, 29, COMPOSITE), (1, 0, 6, BIRTH), (1, 8, 14, EXPIRY),
            (1, 18, 29, COMPOSITE)],
    # Visas (9303 part 7): no composite, so each check covers its own field only.
    "MRV-A": [(1, 0, 9, {"document_number"}), (1, 13, 19, {"birth_date"}),
              (1, 21, 27, {"expiry_date"})],
    "MRV-B": [(1, 0, 9, {"document_number"}), (1, 13, 19, {"birth_date"}),
              (1, 21, 27, {"expiry_date"})],
}  # fmt: skip
# Characters nobody checks, with the class a mutation must stay within to remain well-formed.
UNCHECKED_LETTERS = {
    "TD3": [(0, 0, 0), (0, 2, 4), (1, 10, 12)],
    "TD2": [(0, 0, 0), (0, 2, 4), (1, 10, 12)],
    "TD1": [(0, 0, 0), (0, 2, 4), (1, 15, 17)],
    # The V stays (it makes the visa); the optional data has no check at all.
    "MRV-A": [(0, 1, 1), (0, 2, 4), (1, 10, 12), (1, 28, 43)],
    "MRV-B": [(0, 1, 1), (0, 2, 4), (1, 10, 12), (1, 28, 35)],
}
NAME_LINE = {"TD3": (0, 5), "TD2": (0, 5), "TD1": (2, 0), "MRV-A": (0, 5), "MRV-B": (0, 5)}
# Document codes ICAO gives each size (a V on a 2-line zone makes it a visa).
CODES = {"TD3": ["P", "PO", "PD"], "TD2": ["I", "A", "ID", "C"], "TD1": ["I", "A", "ID"],
         "MRV-A": ["V", "VL", "VM"], "MRV-B": ["V", "VL", "VZ"]}


def covering(kind: str, line: int, column: int) -> set[str] | None:
    for cov_line, first, last, checks in COVERAGE[kind]:
        if cov_line == line and first <= column <= last:
            return checks
    return None


def yymmdd(day: date) -> str:
    return day.strftime("%y%m%d")


names = st.text(LETTERS, min_size=1, max_size=8)
fields_strategy = st.builds(
    MrzFields,
    document_type=st.just("P"),  # replaced per kind by `for_kind`
    issuing_state=st.text(LETTERS, min_size=3, max_size=3),
    surname=names,
    given_names=names,
    document_number=st.text(ALNUM, min_size=1, max_size=9),
    nationality=st.text(LETTERS, min_size=3, max_size=3),
    birth_date=st.dates(date(1930, 1, 1), date(2025, 12, 31)).map(yymmdd),
    sex=st.sampled_from("MFX<"),
    expiry_date=st.dates(date(2027, 1, 1), date(2060, 12, 31)).map(yymmdd),
    optional=st.text(ALNUM, max_size=7),
)


def for_kind(data: st.DataObject, kind: str, fields: MrzFields) -> MrzFields:
    from dataclasses import replace

    return replace(fields, document_type=data.draw(st.sampled_from(CODES[kind])))


@given(data=st.data(), kind=st.sampled_from(sorted(BUILDERS)), fields=fields_strategy)
def test_generated_mrz_round_trips(data, kind, fields):
    fields = for_kind(data, kind, fields)
    result = mrz.parse(BUILDERS[kind](fields), today=TODAY)
    assert result is not None and result.format == kind
    assert result.valid, result.problems
    assert result.fields["document_number"] == fields.document_number
    assert result.fields["nationality"] == fields.nationality
    assert result.fields["sex"] == (None if fields.sex == "<" else fields.sex)
    assert result.fields["birth_date"].strftime("%y%m%d") == fields.birth_date


@given(data=st.data(), kind=st.sampled_from(sorted(BUILDERS)), fields=fields_strategy)
def test_one_mutated_checked_character_flags_exactly_its_checks(data, kind, fields):
    fields = for_kind(data, kind, fields)
    lines = BUILDERS[kind](fields).split("\n")
    spans = [
        (line, col) for line, first, last, _ in COVERAGE[kind] for col in range(first, last + 1)
    ]
    line, column = data.draw(st.sampled_from(spans))
    original = lines[line][column]
    if (kind, line, column) in (("TD1", 0, 14), ("TD2", 1, 9)):
        # `<` there switches to the long-number layout: covered by the example tests.
        replacements = [c for c in ALNUM if (char_value(c) - char_value(original)) % 10]
    else:
        # A value change by a multiple of 10 is invisible to 7-3-1 check digits (mrzfields).
        replacements = [c for c in MRZ_CHARS if (char_value(c) - char_value(original)) % 10]
    new = data.draw(st.sampled_from(replacements))
    lines[line] = lines[line][:column] + new + lines[line][column + 1 :]
    result = mrz.parse("\n".join(lines), today=TODAY)
    assert result is not None
    assert result.failing_fields == covering(kind, line, column), result.problems


@given(data=st.data(), kind=st.sampled_from(sorted(BUILDERS)), fields=fields_strategy)
def test_one_mutated_unchecked_character_flags_nothing(data, kind, fields):
    fields = for_kind(data, kind, fields)
    lines = BUILDERS[kind](fields).split("\n")
    name_line, name_start = NAME_LINE[kind]
    spans = [(line, col) for line, first, last in UNCHECKED_LETTERS[kind]
             for col in range(first, last + 1)]  # fmt: skip
    spans += [(name_line, col) for col in range(name_start, name_start + 3)]
    line, column = data.draw(st.sampled_from(spans))
    # Not a V in the first column: that would make a passport or card a visa, by design.
    new = data.draw(st.sampled_from(LETTERS.replace("V", "") if column == 0 else LETTERS))
    lines[line] = lines[line][:column] + new + lines[line][column + 1 :]
    result = mrz.parse("\n".join(lines), today=TODAY)
    assert result is not None and result.format == kind
    assert result.failing_fields == frozenset(), result.problems


# (line, first column of the number, first column of the optional data, its width)
LONG = {"TD1": (0, 5, 15, 15), "TD2": (1, 0, 28, 7)}


@given(
    data=st.data(),
    kind=st.sampled_from(sorted(LONG)),
    fields=fields_strategy,
    number=st.text(ALNUM, min_size=10, max_size=13),
)
def test_long_number_round_trip_and_mutation(data, kind, fields, number):
    """9303 part 5 (TD1) and part 6 (TD2): a number over 9 characters goes on in the optional
    data, followed by the whole number's check digit."""
    from dataclasses import replace

    row, start, opt, width = LONG[kind]
    optional = fields.optional[: max(0, width - (len(number) - 9) - 2)]  # what still fits
    if len(number) - 9 + 1 > width:
        number = number[: 9 + width - 1]  # TD2: at most 6 more characters and the check
    fields = replace(for_kind(data, kind, fields), document_number=number, optional=optional)
    lines = BUILDERS[kind](fields).split("\n")
    result = mrz.parse("\n".join(lines), today=TODAY)
    assert result is not None and result.valid and result.fields["document_number"] == number
    assert result.fields["optional_data"] == (optional or None)
    assert lines[row][start + 9] == "<"
    # Number characters: the first 9 and the continuation up to its check digit.
    spans = [*range(start, start + 9), *range(opt, opt + len(number) - 9 + 1)]
    column = data.draw(st.sampled_from(spans))
    original = lines[row][column]
    # No `<` here: it would move the end of the number, and the shorter number's check digit
    # may then pass by chance (1 in 10), which is correct but not "exactly these fields".
    new = data.draw(st.sampled_from([c for c in ALNUM
                                     if (char_value(c) - char_value(original)) % 10]))  # fmt: skip
    lines[row] = lines[row][:column] + new + lines[row][column + 1 :]
    mutated = mrz.parse("\n".join(lines), today=TODAY)
    assert mutated is not None
    assert mutated.failing_fields == DOC, mutated.problems
