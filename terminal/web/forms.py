"""Manual entry: which fields each document type asks for, and the typed guest they make.

The registry's checks still decide what blocks (a manual entry without a reason, an unknown
country); this module only refuses what cannot be turned into a guest at all (a date that is
not a date), with the field named in the clerk's language.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sync.fields import text_problem
from terminal.domain.codes import code_tables
from terminal.domain.documents import MANUAL, Document, Visa
from terminal.domain.guests import MAIN, Guest
from terminal.errors import TerminalError
from terminal.system.ids import new_id
from terminal.web.page import Form
from terminal.web.views import zh

VISA_TYPES = ("L", "M", "F", "Q1", "Q2", "S1", "S2", "Z", "X1", "X2", "J1", "J2", "C", "G", "D",
              "R")


# Shown first in the nationality list: the countries most guests of a Chinese guesthouse come
# from (the full list follows, searchable by code or name).
COMMON_COUNTRIES = ("KOR", "JPN", "USA", "RUS", "MYS", "SGP", "THA", "VNM", "GBR", "DEU", "FRA",
                    "AUS", "CAN", "IND", "MNG", "PHL", "IDN", "ITA")


class FormError(TerminalError):
    """A typed value that cannot be used; the message is already in the clerk's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message, message)


def manual_context(locale: str, form: Form, doc_type: str) -> dict[str, Any]:
    tables = code_tables()
    types = [(code, t.name_zh if zh(locale) else t.name_en)
             for code, t in tables.document_types.items() if "manual" in t.entry]
    chosen = tables.document_types.get(doc_type) or tables.document_types["14"]
    name_key = "name_zh" if zh(locale) else "name_en"
    countries = sorted(((code, entry[name_key]) for code, entry in tables.countries.items()),
                       key=lambda item: item[0])
    sexes = [(k, v[name_key]) for k, v in tables.sexes.items() if k in ("male", "female")]
    names = dict(countries)
    common = [(code, names[code]) for code in COMMON_COUNTRIES if code in names]
    return {"types": types, "doc_type": chosen.code, "passport": chosen.passport,
            "foreign": chosen.foreign, "countries": countries, "sexes": sexes,
            "common_countries": common,
            "visa_types": VISA_TYPES, "form": form}


def _date(form: Form, name: str, label: str, _: Callable[[str], str], *,
          required: bool = False) -> date | None:
    text = form.get(name)
    if not text:
        if required:
            raise FormError(_("{field}: required").format(field=label))
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as err:
        raise FormError(_("{field}: use a date like 2024-05-31").format(field=label)) from err


def refuse_bad_text(form: Form, _: Callable[[str], str]) -> None:
    """The text rule of sync/fields.py on every field typed (refused, never cleaned)."""
    for name in form.names():
        if text_problem(name) or text_problem(form.get(name)):
            raise FormError(_("{field} contains a control character (such as a line break or "
                              "NUL). Nothing was saved: type it again.").format(field=name))


def manual_guest(form: Form, _: Callable[[str], str]) -> Guest:
    refuse_bad_text(form, _)
    tables = code_tables()
    doc_type = tables.document_types.get(form.get("document_type"))
    if doc_type is None:
        raise FormError(_("Choose a document type."))
    if not form.get("number"):
        raise FormError(_("{field}: required").format(field=_("Document number")))
    if doc_type.foreign and not form.get("nationality"):
        raise FormError(_("Choose the nationality."))
    if doc_type.foreign and not (form.get("surname_en") or form.get("name")):
        raise FormError(_("{field}: required").format(field=_("Surname (Latin)")))
    if not doc_type.foreign and not form.get("name"):
        raise FormError(_("{field}: required").format(field=_("Name")))
    visa = None
    if doc_type.passport:
        visa = Visa(visa_type=form.get("visa_type") or None,
                    visa_number=form.get("visa_number") or None,
                    stay_until=_date(form, "visa_stay_until", _("Stay permitted until"), _),
                    entry_date=_date(form, "entry_date", _("Entry date"), _),
                    entry_port=form.get("entry_port") or None)
    nationality = form.get("nationality") or ("CHN" if not doc_type.foreign else "")
    document = Document(
        type_code=doc_type.code, number=form.get("number").upper(), source=MANUAL,
        manual_reason=form.get("reason") or None,
        issuing_country=form.get("issuing_country") or nationality or None,
        valid_until=_date(form, "valid_until", _("Valid until"), _), visa=visa)
    surname_en = form.get("surname_en").upper() or None
    given_en = form.get("given_names_en").upper() or None
    return Guest(
        guest_id=new_id(), role=MAIN, name=form.get("name"), sex=form.get("sex") or "unknown",
        birth_date=_date(form, "birth_date", _("Birth date"), _, required=True) or date.min,
        nationality=nationality, document=document, surname_en=surname_en,
        given_names_en=given_en, address=form.get("address") or None,
        phone=form.get("phone") or None)
