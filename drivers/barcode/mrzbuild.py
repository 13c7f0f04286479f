"""Build valid ICAO MRZs from fields: for the simulator, the tests and the bench.

Synthetic identities only. Every check digit is computed here, so a parser test that mutates
one character knows exactly which checks must fail.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.barcode.mrzfields import check_digit


@dataclass(frozen=True, slots=True)
class MrzFields:
    document_type: str = "P"
    issuing_state: str = "UTO"
    surname: str = "ERIKSSON"
    given_names: str = "ANNA MARIA"
    document_number: str = "L898902C3"
    nationality: str = "UTO"
    birth_date: str = "740812"  # YYMMDD as printed
    sex: str = "F"
    expiry_date: str = "120415"
    optional: str = ""  # TD3 personal number, TD1 optional data 1, TD2/MRV optional data


def _pad(text: str, width: int) -> str:
    text = text.upper().replace(" ", "<")
    if len(text) > width:
        raise ValueError(f"{text!r} is longer than {width}")
    return text + "<" * (width - len(text))


def _name(fields: MrzFields, width: int) -> str:
    name = fields.surname.replace(" ", "<") + "<<" + fields.given_names.replace(" ", "<")
    return _pad(name[:width], width)


def _cd(data: str) -> str:
    return str(check_digit(data))


def td3(fields: MrzFields) -> str:
    line1 = _pad(fields.document_type, 2) + _pad(fields.issuing_state, 3) + _name(fields, 39)
    number = _pad(fields.document_number, 9)
    personal = _pad(fields.optional, 14)
    body = (
        number + _cd(number) + _pad(fields.nationality, 3)
        + fields.birth_date + _cd(fields.birth_date) + fields.sex
        + fields.expiry_date + _cd(fields.expiry_date)
        + personal + _cd(personal)
    )  # fmt: skip
    composite = body[0:10] + body[13:20] + body[21:43]
    return line1 + "\n" + body + _cd(composite)


def _number(number: str, optional: str, width: int) -> tuple[str, str]:
    """(number + check, optional data) with the long-number rule (TD1, TD2): over 9
    characters, the first 9, `<`, and the rest + the whole number's check digit open the
    optional data."""
    number = number.upper()
    if len(number) > 9:
        rest = number[9:] + _cd(number)
        return number[:9] + "<", _pad(rest + "<" + optional if optional else rest, width)
    padded = _pad(number, 9)
    return padded + _cd(padded), _pad(optional, width)


def td2(fields: MrzFields) -> str:
    line1 = _pad(fields.document_type, 2) + _pad(fields.issuing_state, 3) + _name(fields, 31)
    number, optional = _number(fields.document_number, fields.optional, 7)
    body = (
        number + _pad(fields.nationality, 3)
        + fields.birth_date + _cd(fields.birth_date) + fields.sex
        + fields.expiry_date + _cd(fields.expiry_date) + optional
    )  # fmt: skip
    composite = body[0:10] + body[13:20] + body[21:35]
    return line1 + "\n" + body + _cd(composite)


def _visa(fields: MrzFields, width: int) -> str:
    """MRV-A (44) / MRV-B (36), 9303 part 7: no composite, no check on the optional data."""
    line1 = _pad(fields.document_type, 2) + _pad(fields.issuing_state, 3) + _name(fields, width - 5)
    number = _pad(fields.document_number, 9)
    body = (
        number + _cd(number) + _pad(fields.nationality, 3)
        + fields.birth_date + _cd(fields.birth_date) + fields.sex
        + fields.expiry_date + _cd(fields.expiry_date) + _pad(fields.optional, width - 28)
    )  # fmt: skip
    return line1 + "\n" + body


def mrva(fields: MrzFields) -> str:
    return _visa(fields, 44)


def mrvb(fields: MrzFields) -> str:
    return _visa(fields, 36)


def td1(fields: MrzFields) -> str:
    number, optional = _number(fields.document_number, fields.optional, 15)
    head = number + optional
    line1 = _pad(fields.document_type, 2) + _pad(fields.issuing_state, 3) + head
    body = (
        fields.birth_date + _cd(fields.birth_date) + fields.sex
        + fields.expiry_date + _cd(fields.expiry_date) + _pad(fields.nationality, 3)
        + "<" * 11
    )  # fmt: skip
    composite = line1[5:30] + body[0:7] + body[8:15] + body[18:29]
    return line1 + "\n" + body + _cd(composite) + "\n" + _name(fields, 30)


BUILDERS = {"TD1": td1, "TD2": td2, "TD3": td3, "MRV-A": mrva, "MRV-B": mrvb}
