"""Chinese travel-permit MRZs (not ICAO 9303): recognised, prefilled, never "verified".

The card-format permits carry a three-line machine-readable zone that looks like TD1 but is
not ICAO: the first line starts with `C` then a kind letter::

    CS...   Mainland travel permit for Hong Kong and Macau residents (回乡证), number H/M + 8 digits
            (the same prefix is used by the mainland residents' permit to HK/Macau, number C + 8)
    CT...   Mainland travel permit for Taiwan residents (台胞证), number 8 digits

Public descriptions of the remaining columns (dates, check digits, issue count) disagree and
we hold no specimen we trust, so this module deliberately does NOT verify anything: it pulls
out what can be recognised without knowing the column layout (a permit number by its shape, a
`SURNAME<<GIVEN` name) and returns a result with `verified=False`. The page shows it as a
prefilled form the clerk checks against the card, exactly as if typed.
"""

from __future__ import annotations

import re

from drivers.barcode.mrzfields import MrzResult, Problem, parse_name

PREFIXES = {"CS": "hk_macau", "CT": "taiwan"}
_NUMBERS = {
    "hk_macau": re.compile(r"[HMC]\d{8}"),
    "taiwan": re.compile(r"(?<![0-9])\d{8}(?![0-9])"),
}
_NAME = re.compile(r"^[A-Z]+(<[A-Z]+)*<<[A-Z<]*$")
NOTE = "non-ICAO travel permit MRZ: prefill only, not verified; check every field on the card"


def parse(lines: list[str]) -> MrzResult | None:
    """A prefill-only `MrzResult` for a CS/CT permit MRZ, or None if it is not one."""
    if not 2 <= len(lines) <= 3 or lines[0][:2] not in PREFIXES:
        return None
    if not all(26 <= len(line) <= 36 for line in lines):
        return None
    kind = PREFIXES[lines[0][:2]]
    fields: dict[str, object] = {"document_type": lines[0][:2], "permit_kind": kind}
    match = _NUMBERS[kind].search(lines[0], 2)
    fields["document_number"] = match.group(0) if match else None
    surname = given = None
    for line in lines[1:]:
        if _NAME.match(line):
            surname, given = parse_name(line)
    fields["surname"], fields["given_names"] = surname, given
    fields["nationality"] = "CHN"
    problems = [Problem("document", "unverified", NOTE, "warning")]
    if fields["document_number"] is None:
        problems.append(Problem("document_number", "not_found", "no permit number", "warning"))
    return MrzResult("CN_PERMIT", tuple(lines), fields, tuple(problems), verified=False,
                     notes=(NOTE,))  # fmt: skip
