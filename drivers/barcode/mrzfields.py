"""MRZ field primitives and the result type, shared by the ICAO parser and the permit recogniser.

Check digit (ICAO 9303 part 3, 4.9): each character's value (0-9 digits, A-Z = 10..35,
`<` = 0) times the weights 7, 3, 1 repeating, summed, modulo 10. Because 7, 3 and 1 are coprime
with 10, any single-character change whose value moves by a non-multiple of 10 changes the
digit; `0` -> `A` (0 -> 10) or `O` <-> `0` in some positions can slip through, which is why
an `O` where only digits belong is reported on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

_WEIGHTS = (7, 3, 1)
VISAS = {"TD3": "MRV-A", "TD2": "MRV-B"}  # same sizes, told apart by the document code V


@dataclass(frozen=True, slots=True)
class Problem:
    """One failing (or suspicious) field: `field` is the name the form shows it under."""

    field: str
    code: str  # check_digit | letter_o | not_digits | malformed_date | unknown_part | invalid ...
    message: str
    severity: Literal["error", "warning"] = "error"


@dataclass(frozen=True, slots=True)
class MrzResult:
    """One parsed MRZ. `problems` lists every failing field by name; `valid` = none are errors.

    `verified` is False for formats whose checks we cannot run (prefill only).
    """

    format: str  # TD1 | TD2 | TD3 | MRV-A | MRV-B | CN_PERMIT | UNSUPPORTED
    lines: tuple[str, ...]
    fields: dict[str, object]
    problems: tuple[Problem, ...] = ()
    verified: bool = True
    notes: tuple[str, ...] = field(default=())

    @property
    def valid(self) -> bool:
        return self.verified and not any(p.severity == "error" for p in self.problems)

    @property
    def visa(self) -> bool:
        return self.format in VISAS.values()

    @property
    def failing_fields(self) -> frozenset[str]:
        return frozenset(p.field for p in self.problems if p.severity == "error")

    def guest(self) -> dict[str, object]:
        """The passport-guest view: the fields the foreign-guest form is prefilled with."""
        keys = ("surname", "given_names", "nationality", "document_type", "document_number",
                "birth_date", "sex", "expiry_date", "issuing_state")  # fmt: skip
        guest = {key: self.fields.get(key) for key in keys}
        for key in ("birth_date", "expiry_date"):
            value = guest[key]
            guest[key] = value.isoformat() if isinstance(value, date) else None
        guest["mrz_verified"] = self.valid
        guest["mrz_problems"] = [p.field + ":" + p.code for p in self.problems]
        return guest


def char_value(ch: str) -> int | None:
    if ch.isdigit():
        return int(ch)
    if "A" <= ch <= "Z":
        return ord(ch) - ord("A") + 10
    if ch == "<":
        return 0
    return None


def check_digit(data: str) -> int | None:
    """The 7-3-1 check digit of `data`; None if a character has no MRZ value."""
    total = 0
    for index, ch in enumerate(data):
        value = char_value(ch)
        if value is None:
            return None
        total += value * _WEIGHTS[index % 3]
    return total % 10


def verify_check(
    data: str, check: str, name: str, problems: list[Problem], *, filler_ok: bool = False
) -> bool:
    """Append a problem named `name` unless `check` is the check digit of `data`."""
    if filler_ok and check == "<" and set(data) <= {"<"}:
        return True  # 9303: an empty optional field may carry `<` instead of 0
    expected = check_digit(data)
    if check == "O":
        problems.append(Problem(name, "letter_o", "check digit is the letter O, not a digit"))
        return False
    if expected is not None and check.isdigit() and int(check) == expected:
        return True
    shown = "?" if expected is None else str(expected)
    problems.append(Problem(name, "check_digit", f"check digit: expected {shown}, got {check!r}"))
    if "O" in data and check_digit(data.replace("O", "0")) == _digit(check):
        problems.append(
            Problem(name, "letter_o", "would pass with O read as 0: check it", "warning")
        )
    elif "0" in data and check_digit(data.replace("0", "O")) == _digit(check):
        problems.append(
            Problem(name, "letter_o", "would pass with 0 read as O: check it", "warning")
        )
    return False


def _digit(ch: str) -> int | None:
    return int(ch) if ch.isdigit() else None


def digits_problem(value: str, name: str, problems: list[Problem]) -> None:
    """Flag non-digits in an all-digit field (dates); `<` there means "unknown" (9303)."""
    if value.isdigit():
        return
    if "O" in value:
        problems.append(Problem(name, "letter_o", f"letter O in a digits-only field: {value!r}"))
    elif set(value) - set("0123456789<"):
        problems.append(Problem(name, "not_digits", f"expected digits, got {value!r}"))
    else:
        problems.append(Problem(name, "unknown_part", f"partly unknown: {value!r}", "warning"))


def parse_date(
    yymmdd: str, name: str, problems: list[Problem], today: date, *, future: bool
) -> date | None:
    """YYMMDD -> date, or None (never raises). Century: births are never in the future;
    expiries lie within 50 years ahead (a document older than that is long expired anyway)."""
    if len(yymmdd) != 6 or not yymmdd.isdigit():
        return None
    yy, mm, dd = int(yymmdd[0:2]), int(yymmdd[2:4]), int(yymmdd[4:6])
    year = 2000 + yy
    if (future and year > today.year + 50) or (not future and year > today.year):
        year -= 100
    try:
        value = date(year, mm, dd)
    except ValueError:
        problems.append(Problem(name, "malformed_date", f"no such date: {yymmdd}"))
        return None
    if not future and value > today:
        value = value.replace(year=value.year - 100)
    return value


def parse_name(text: str) -> tuple[str, str]:
    """`SURNAME<<GIVEN<NAMES<<<` -> ("SURNAME", "GIVEN NAMES"); no `<<`: all surname."""
    text = text.rstrip("<")
    surname, _, given = text.partition("<<")
    return surname.replace("<", " ").strip(), given.replace("<", " ").strip()
