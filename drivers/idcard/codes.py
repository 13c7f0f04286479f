"""Code tables of the card text: ID number check character, number cross-checks, nations.

An 18-character number (GB 11643-1999; HK/Macau/Taiwan permits and 2023 foreign cards reuse it):

    d1..d6   d7..d14    d15 d16 d17   d18
    address  YYYYMMDD   sequence      check char, ISO 7064 MOD 11-2 over d1..d17
                              └ d17 odd = male, even = female

The check character is "10X98765432"[sum(d_i * w_i) mod 11] with w_i = 2^(18-i) mod 11.
Cards carry an upper-case X; people type a lower-case x, so both are accepted on input.

2023 foreign cards: the public rules confirm the leading 9 and the MOD 11-2 check; that the birth
date and sex sit where a citizen number has them is inferred from the layout mirroring it [U].

Nations (GB 3304-91 plus the public-security codes 97/98) come from the versioned data file
`codetables/data/nations.json` (shared with the terminal and the
central server), so a table update is a data change with its own version, not a code change.
An unknown code maps to no name: the raw code is kept and nothing is guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import cache

import codetables
from drivers.idcard.reading import Sex

ID_NUMBER_LENGTH = 18
_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
_CHECK_CHARS = "10X98765432"
# ASCII digits only: str.isdigit() would also accept full-width and Arabic-Indic digits.
_NUMBER_RE = re.compile(r"[0-9]{17}[0-9Xx]")
_BODY_RE = re.compile(r"[0-9]{17}")

ISSUE_FORMAT = "format"
ISSUE_CHECK_DIGIT = "check_digit"
ISSUE_BIRTH_DATE = "birth_date"
ISSUE_SEX = "sex"


def check_character(body17: str) -> str:
    """The GB 11643 check character ("0".."9" or "X") for the first 17 digits of a number."""
    if not _BODY_RE.fullmatch(body17):
        raise ValueError(f"ID number body: expected 17 ASCII digits, got {len(body17)} chars")
    total = sum(int(digit) * weight for digit, weight in zip(body17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def has_valid_check_character(number: str) -> bool:
    """True when `number` is 17 digits plus the matching check character (x accepted)."""
    if not _NUMBER_RE.fullmatch(number):
        return False
    return check_character(number[:17]) == number[17].upper()


def id_number_issues(
    number: str, birth_date: date, sex: Sex, *, cross_check: bool = True
) -> tuple[str, ...]:
    """What is wrong with an 18-character number, cross-checked against the card's other fields.

    Returns a subset of ("format", "check_digit", "birth_date", "sex") in that order; empty when
    the number is consistent. A malformed number yields ("format",) alone: the other checks would
    only read positions that carry no meaning. Sex is cross-checked only for male/female, since
    codes 0 and 9 claim nothing the number could contradict.

    `cross_check=False` checks format and check character only: the reference confirms for the
    2023 foreign card number just the leading 9 and the MOD 11-2 check, not where (or whether) it
    encodes birth date and sex, so those are not guessed.
    """
    if not _NUMBER_RE.fullmatch(number):
        return (ISSUE_FORMAT,)
    issues: list[str] = []
    if check_character(number[:17]) != number[17].upper():
        issues.append(ISSUE_CHECK_DIGIT)
    if not cross_check:
        return tuple(issues)
    if number[6:14] != format_date(birth_date):
        issues.append(ISSUE_BIRTH_DATE)
    if sex in (Sex.MALE, Sex.FEMALE):
        number_says = Sex.MALE if int(number[16]) % 2 == 1 else Sex.FEMALE
        if number_says is not sex:
            issues.append(ISSUE_SEX)
    return tuple(issues)


def format_date(value: date) -> str:
    """YYYYMMDD with a zero-padded year (strftime's %Y does not pad years below 1000 everywhere)."""
    return f"{value.year:04d}{value.month:02d}{value.day:02d}"


@dataclass(frozen=True, slots=True)
class Nation:
    code: str  # two digits, as on the card
    name: str  # without the 族 suffix, e.g. "汉"
    letter: str | None  # GB 3304 letter code; None for 97/98, which the standard lacks


@dataclass(frozen=True, slots=True)
class NationTable:
    version: str
    by_code: dict[str, Nation]
    aliases: dict[str, str]  # documented old name -> code


@cache
def nation_table() -> NationTable:
    """The nation table from `codetables/data/nations.json`, loaded once."""
    raw = codetables.load("nations")
    by_code = {
        code: Nation(code=code, name=entry["name"], letter=entry.get("letter"))
        for code, entry in raw["nations"].items()
    }
    aliases = {name: entry["code"] for name, entry in raw.get("aliases", {}).items()}
    return NationTable(version=str(raw["version"]), by_code=by_code, aliases=aliases)


def nation_name(code: str | None) -> str | None:
    """Name for a two-digit code ("01" -> "汉"); None for an unknown or missing code."""
    if code is None:
        return None
    nation = nation_table().by_code.get(code)
    return nation.name if nation else None


def nation_code(name: str) -> str | None:
    """Code for a name, with or without 族; documented old names (崩龙, 毛难) are accepted too."""
    table = nation_table()
    wanted = name.strip()
    candidates = [wanted, wanted.removesuffix("族")] if len(wanted) > 1 else [wanted]
    for candidate in candidates:
        for nation in table.by_code.values():
            if nation.name == candidate:
                return nation.code
        if candidate in table.aliases:
            return table.aliases[candidate]
    return None
