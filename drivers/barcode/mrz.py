"""ICAO 9303 machine-readable zones: TD1, TD2, TD3, every check digit verified (our own parser).

Layouts (0-based columns; `#` = check digit, weights 7-3-1 repeating, `<`=0, 0-9, A-Z=10..35)::

    TD3 passport, 2 x 44
      line 1: TT SSS NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN        type, issuing state, name
      line 2: DDDDDDDDD# CCC YYMMDD# S YYMMDD# PPPPPPPPPPPPPP# X
              0       9  10  13   19 20 21  27 28          42 43
    TD2 card, 2 x 36
      line 1: TT SSS NNNNNNNNNNNNNNNNNNNNNNNNNNNNNNN
      line 2: DDDDDDDDD# CCC YYMMDD# S YYMMDD# OOOOOOO X
    MRV-A / MRV-B visa (9303 part 7), 2 x 44 / 2 x 36, document code V + issuer's letter
      line 1: VT SSS NNNN...                                       as TD3 / TD2
      line 2: DDDDDDDDD# CCC YYMMDD# S YYMMDD# OOOOOOOOOOOOOOOO      16 / 8 optional data,
              visa number                                           no check on it, no composite
    TD1 card, 3 x 30
      line 1: TT SSS DDDDDDDDD# OOOOOOOOOOOOOOO                     optional data 1 at 15..29
      line 2: YYMMDD# S YYMMDD# CCC OOOOOOOOOOO X                    optional data 2 at 18..28
      line 3: NNNNNNNNNNNNNNNNNNNNNNNNNNNNNN

    N name: SURNAME<<GIVEN<NAMES<<<; D document number; C nationality; S sex (M, F, X, <);
    X composite check over (TD3/TD2) line 2 [0:10]+[13:20]+[21:last] or
    (TD1) line 1 [5:30] + line 2 [0:7]+[8:15]+[18:29].

Long document number (TD1 and TD2): when the number's check-digit position holds `<`, the
number continues in the optional data up to the next `<`; the last of those characters is the
check digit of the whole number (9303 part 5 and part 6).

Which layout: the line lengths, then the document code. `V` is a visa. A code that is not
ICAO's for that size (TD3: P; TD1/TD2: A, C, I) is taken for that format only if every check
passes; otherwise, like a known non-ICAO layout (the pre-2021 French identity card, `IDFRA`
on 2 x 36) or MRZ-shaped lines of no ICAO size, it is `UNSUPPORTED` (never a failed passport).

Recovery and refusal: line endings, stray control characters, spaces and lower case are
normalised; lines are recognised by their lengths. What is never repaired: an `O` where a
digit belongs is reported (code `letter_o`), not turned into `0`, because the clerk must look
at the document; a malformed date becomes `None` with a problem, never an exception.
The three-line Chinese travel-permit MRZs (not ICAO) are handled in `permits.py`; the imports
run one way: mrz -> permits -> mrzfields (which holds `MrzResult`), and mrz -> mrzfields.
"""

from __future__ import annotations

import re
from datetime import date

from drivers.barcode import permits
from drivers.barcode.mrzfields import (
    VISAS,
    MrzResult,
    Problem,
    check_digit,
    digits_problem,
    parse_date,
    parse_name,
    verify_check,
)

FORMATS = {"TD1": (3, 30), "TD2": (2, 36), "TD3": (2, 44)}
UNSUPPORTED = "UNSUPPORTED"
_ICAO_CODES = {"TD1": "ACI", "TD2": "ACI", "TD3": "P"}
_NOT_ICAO = {("TD2", "IDFRA"): "French national identity card (pre-2021 layout, not ICAO)"}
_VALID = re.compile(r"^[A-Z0-9<]+$")
_SEXES = {"M": "M", "F": "F", "X": "X", "<": None}


def normalise(text: str) -> list[str]:
    """Split scanner output into candidate MRZ lines, dropping noise.

    Accepts CR, LF, CRLF, stray control characters (STX/ETX, NUL, TAB), blanks inside lines
    (some OCR readers insert them) and lower case.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = []
    for raw in text.split("\n"):
        cleaned = "".join(ch for ch in raw if ch.isprintable() and not ch.isspace()).upper()
        if cleaned:
            lines.append(cleaned)
    return lines


def split_lines(text: str) -> tuple[str, list[str]] | None:
    """Find (format, lines) by line lengths; a single run-together block is split too."""
    lines = normalise(text)
    for name, (count, width) in FORMATS.items():
        if len(lines) == count and all(len(line) == width for line in lines):
            return name, lines
    joined = "".join(lines)
    for name, (count, width) in FORMATS.items():
        if len(joined) == count * width:
            return name, [joined[i * width : (i + 1) * width] for i in range(count)]
    return None


def looks_like_mrz(text: str) -> bool:
    found = split_lines(text)
    return found is not None and all(_VALID.match(line) for line in found[1])


def parse(text: str, *, today: date | None = None) -> MrzResult | None:
    """Parse an ICAO MRZ (or a Chinese travel-permit MRZ); None if the text is not one.

    MRZ-shaped lines of no known layout give an `UNSUPPORTED` result, so the clerk is told
    "unsupported document" rather than shown a passport that failed its checks.
    """
    today = today or date.today()
    found = split_lines(text)
    if found is None:
        lines = normalise(text)
        return permits.parse(lines) or (_unsupported(lines, "no ICAO layout has these lines")
                                        if shaped(lines) else None)  # fmt: skip
    name, lines = found
    for (size, prefix), why in _NOT_ICAO.items():
        if name == size and lines[0].startswith(prefix):
            return _unsupported(lines, why)
    visa = lines[0][0] == "V" and name in VISAS
    if name == "TD1":
        fields, problems = _parse_td1(lines, today)
    else:
        fields, problems = _parse_td23(lines, today, visa=visa)
    for index, line in enumerate(lines):
        if not _VALID.match(line):
            problems.append(Problem(f"line{index + 1}", "charset", "characters outside A-Z 0-9 <"))
    result = MrzResult(VISAS[name] if visa else name, tuple(lines), fields, tuple(problems))
    if not result.valid and lines[0][:2] in permits.PREFIXES:
        # `C` is also an ICAO TD1 type letter: a fully valid TD1 stays ICAO, anything else
        # starting CS/CT is taken for a Chinese travel permit and handed over as prefill.
        return permits.parse(lines) or result
    if not visa and not result.valid and lines[0][0] not in _ICAO_CODES[name]:
        # Not ICAO's code for this size and the checks fail: most likely another layout.
        return _unsupported(lines, f"document code {lines[0][:2]!r} on a {name}-sized zone")
    return result


def shaped(lines: list[str]) -> bool:
    """Two or more lines of MRZ characters, of MRZ-like widths, with fillers."""
    return (len(lines) >= 2 and all(_VALID.match(line) and 26 <= len(line) <= 44
                                    for line in lines) and "<" in "".join(lines))  # fmt: skip


def _unsupported(lines: list[str], why: str) -> MrzResult:
    problem = Problem("document", "unsupported", f"unsupported document: {why}")
    fields: dict[str, object] = {"document_type": lines[0][:2].replace("<", "")}
    return MrzResult(UNSUPPORTED, tuple(lines), fields, (problem,), verified=False, notes=(why,))


def _common(
    fields: dict[str, object], problems: list[Problem], line1: str, dob: str, sex: str,
    expiry: str, nationality: str, today: date,
) -> None:  # fmt: skip
    """Fields shared by all three formats (their columns differ, their meaning does not)."""
    fields["document_type"] = line1[0:2].replace("<", "")
    fields["issuing_state"] = _country(line1[2:5], "issuing_state", problems)
    fields["nationality"] = _country(nationality, "nationality", problems)
    fields["birth_date"] = parse_date(dob, "birth_date", problems, today, future=False)
    expires = parse_date(expiry, "expiry_date", problems, today, future=True)
    fields["expiry_date"] = expires
    if isinstance(expires, date) and expires < today:
        # Still a correct reading: whether an expired passport is accepted is the clerk's call.
        problems.append(Problem("expiry_date", "expired", f"expired {expires}", "warning"))
    if sex not in _SEXES:
        problems.append(Problem("sex", "invalid", f"expected M, F, X or <, got {sex!r}"))
    fields["sex"] = _SEXES.get(sex)
    if not line1[0].isalpha():
        problems.append(Problem("document_type", "invalid", f"got {line1[0:2]!r}"))


def _country(code: str, name: str, problems: list[Problem]) -> str:
    # Codes are letters (D<< is Germany); digits here mean a misread, not a country.
    if not re.fullmatch(r"[A-Z<]{3}", code) or code.startswith("<"):
        problems.append(Problem(name, "invalid", f"expected a 3-letter code, got {code!r}"))
    return code.replace("<", "")


def _parse_td23(
    lines: list[str], today: date, *, visa: bool = False
) -> tuple[dict[str, object], list[Problem]]:
    """TD3, TD2 and (`visa`) MRV-A, MRV-B: the same columns up to the expiry check digit."""
    line1, line2 = lines
    last = len(line2) - 1
    problems: list[Problem] = []
    fields: dict[str, object] = {}
    fields["surname"], fields["given_names"] = parse_name(line1[5:])
    optional = line2[28:] if visa else line2[28:last]
    if last == 35 and not visa and line2[9] == "<" and line2[0:9].replace("<", ""):
        number, optional = _long_number(line2[0:9], optional, problems)
    else:
        number = line2[0:9]
        verify_check(number, line2[9], "document_number", problems)
    fields["document_number"] = number.replace("<", "")
    digits_problem(line2[13:19], "birth_date", problems)
    verify_check(line2[13:19], line2[19], "birth_date", problems)
    digits_problem(line2[21:27], "expiry_date", problems)
    verify_check(line2[21:27], line2[27], "expiry_date", problems)
    _common(fields, problems, line1, line2[13:19], line2[20], line2[21:27], line2[10:13], today)
    if visa:  # 9303 part 7: the optional data carries no check digit, there is no composite
        fields["optional_data"] = optional.replace("<", "") or None
        return fields, problems
    if last == 43:  # TD3: personal number with its own check; all-filler may be `<` or `0`
        personal = line2[28:42]
        fields["personal_number"] = personal.replace("<", "") or None
        verify_check(personal, line2[42], "personal_number", problems, filler_ok=True)
    else:
        fields["optional_data"] = optional.replace("<", "") or None
    composite = line2[0:10] + line2[13:20] + line2[21:last]
    verify_check(composite, line2[last], "composite", problems)
    return fields, problems


def _long_number(head: str, optional: str, problems: list[Problem]) -> tuple[str, str]:
    """(number, optional data left) for a number longer than 9 (9303 part 5 4.2.4, part 6):
    it goes on in the optional data; its last character before the first `<` is the check
    digit of the whole number."""
    tail = optional.split("<", 1)[0]
    number = head + tail[:-1]
    if len(tail) < 2:
        problems.append(Problem("document_number", "long_number", "no continuation"))
    else:
        verify_check(number, tail[-1], "document_number", problems)
    return number, optional[len(tail) :]


def _parse_td1(lines: list[str], today: date) -> tuple[dict[str, object], list[Problem]]:
    line1, line2, line3 = lines
    problems: list[Problem] = []
    fields: dict[str, object] = {}
    fields["surname"], fields["given_names"] = parse_name(line3)
    optional1 = line1[15:30]
    if line1[14] == "<" and line1[5:14].replace("<", ""):
        number, optional1 = _long_number(line1[5:14], optional1, problems)
    else:
        number = line1[5:14]
        verify_check(number, line1[14], "document_number", problems)
    fields["document_number"] = number.replace("<", "")
    fields["optional_data"] = (optional1 + line2[18:29]).replace("<", "") or None
    digits_problem(line2[0:6], "birth_date", problems)
    verify_check(line2[0:6], line2[6], "birth_date", problems)
    digits_problem(line2[8:14], "expiry_date", problems)
    verify_check(line2[8:14], line2[14], "expiry_date", problems)
    _common(fields, problems, line1, line2[0:6], line2[7], line2[8:14], line2[15:18], today)
    composite = line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29]
    verify_check(composite, line2[29], "composite", problems)
    return fields, problems


__all__ = [
    "FORMATS",
    "UNSUPPORTED",
    "VISAS",
    "MrzResult",
    "Problem",
    "check_digit",
    "looks_like_mrz",
    "parse",
    "shaped",
]
