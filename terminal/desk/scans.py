"""Scans at the front desk: what a ScanEvent becomes on the page and in the registration.

    ScanHub thread ──on_event──> ScanDesk.receive ──> kept by id (bounded, memory only)
        passport_prefill / permit_prefill / mrz_failed ──notice "scan" {url}──> page opens
            /manual?scan=ID: the foreign-guest form prefilled, each MRZ check shown
        attach_opaque / attach_text ──> Draft.attach ──notice "draft"──> shown in the party
        visa ──place_visa──> the guest it belongs to (nationality, name, birth date):
            in the party: Draft.set_visa_number ──notice "draft"── (use visa_attached)
            the passport's form still open: its visa fields filled in place (visa_form)
            nobody matches: said so, nothing attached (visa_unmatched)
        none, product, unsupported, ... ──notice "scan"──> a one-line message

The form posts the scan id back; the MRZ evidence is taken from the kept scan, never from
the form, so what is stored as "machine-read and verified" is what the reader sent.
Personal data: the kept scans live only in memory (at most KEEP) and are dropped when the
party is saved or cleared.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from drivers.barcode.hub import ScanEvent
from drivers.barcode.mrz import MrzResult
from terminal.desk.draft import Draft
from terminal.domain.attachments import MRZ_CHECKS, Attachment, MrzEvidence
from terminal.domain.documents import MANUAL, SCAN
from terminal.domain.guests import Guest

KEEP = 32  # scans kept for the form to refer to
PREFILL = ("passport_prefill", "permit_prefill", "mrz_failed")
ATTACH = ("attach_opaque", "attach_text")
PASSPORT_TYPES = {"PD": "15", "PO": "16", "PS": "16"}  # else P* -> 14 ordinary passport
PERMIT_TYPES = {"CS": "21", "CT": "22"}
SEXES = {"M": "male", "F": "female"}


def N_(text: str) -> str:  # marks a string for extraction; translated where shown
    return text


# MRZ field names as the clerk reads them (the page translates these through gettext).
FIELD_LABELS = {
    "document_number": N_("Document number"), "birth_date": N_("Birth date"),
    "expiry_date": N_("Valid until"), "personal_number": N_("Personal number"),
    "composite": N_("Composite check"), "sex": N_("Sex"), "nationality": N_("Nationality"),
    "issuing_state": N_("Issuing state"), "document_type": N_("Document type"),
    "surname": N_("Surname (Latin)"), "document": N_("Document"),
    "line1": N_("MRZ line 1"), "line2": N_("MRZ line 2"), "line3": N_("MRZ line 3"),
}


@dataclass(frozen=True, slots=True)
class KeptScan:
    scan_id: str
    event: ScanEvent
    received_at: float  # epoch seconds (the bench times the page against it)


class ScanDesk:
    """Thread-safe store of recent scans; the hub thread adds, request handlers read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scans: OrderedDict[str, KeptScan] = OrderedDict()
        self._visas: dict[str, KeptScan] = {}  # passport scan id -> the visa matched to it
        self._next = 0

    def keep(self, event: ScanEvent) -> KeptScan:
        with self._lock:
            self._next += 1
            kept = KeptScan(f"s{self._next}", event, time.time())
            self._scans[kept.scan_id] = kept
            while len(self._scans) > KEEP:
                self._scans.popitem(last=False)
            return kept

    def get(self, scan_id: str) -> KeptScan | None:
        with self._lock:
            return self._scans.get(scan_id)

    def passports(self) -> list[KeptScan]:
        """Passport scans, the most recent first (a visa belongs to one scanned before it)."""
        with self._lock:
            kept = [k for k in self._scans.values() if k.event.use in ("passport_prefill",
                                                                         "mrz_failed")]
        return kept[::-1]

    def pair(self, passport_id: str, visa: KeptScan) -> None:
        with self._lock:
            self._visas[passport_id] = visa

    def visa_for(self, passport_id: str) -> KeptScan | None:
        with self._lock:
            return self._visas.get(passport_id)

    def clear(self) -> None:
        with self._lock:
            self._scans.clear()
            self._visas.clear()


def attachment(event: ScanEvent) -> Attachment:
    meaning = event.interpretation
    if event.use == "attach_opaque":
        return Attachment("netid", None, payload_b64=meaning.payload_b64,
                          needs_online_verification=True, note=meaning.note,
                          source=event.scan.source)
    return Attachment(meaning.kind, meaning.text, source=event.scan.source)


def evidence(event: ScanEvent) -> MrzEvidence | None:
    result = event.interpretation.mrz
    if result is None:
        return None
    failing = result.failing_fields
    checks = MRZ_CHECKS.get(result.format, ())
    return MrzEvidence(
        format=result.format, lines=result.lines, verified=result.valid,
        checks_passed=tuple(c for c in checks if c not in failing) if result.verified else (),
        problems=tuple(f"{p.field}:{p.code}" for p in result.problems))


def visa_values(passport: MrzResult | None, visa: KeptScan | None) -> dict[str, str]:
    """The visa fields a matched visa scan fills (only the number: 9303 leaves the second
    letter of the code to the issuer, and a visa's expiry is "enter before", not the end of
    the permitted stay, so type and stay are the clerk's to read off the sticker)."""
    result = visa.event.interpretation.mrz if visa is not None else None
    if passport is None or result is None:
        return {}
    return {"visa_number": str(result.fields.get("document_number") or "")}


def _words(text: object) -> list[str]:
    return str(text or "").upper().replace("<", " ").split()


def same_person(visa: MrzResult, surname: object, given: object, nationality: object,
                birth_date: object) -> bool:
    """Nationality, birth date and name as the visa's MRZ has them (a name cut short to fit
    the shorter visa zone still matches the passport's by its leading letters)."""
    fields = visa.fields
    born = fields.get("birth_date")
    if not isinstance(born, date) or born != birth_date:
        return False
    if not nationality or fields.get("nationality") != nationality:
        return False
    if _words(fields.get("surname")) != _words(surname) or not _words(surname):
        return False
    mine, theirs = _words(fields.get("given_names")), _words(given)
    if mine == theirs:
        return True
    cut = not visa.lines[0].endswith("<")  # the name filled the visa's field: truncated
    return cut and len(mine) <= len(theirs) and all(
        b.startswith(a) for a, b in zip(mine, theirs, strict=False))


@dataclass(frozen=True, slots=True)
class VisaPlace:
    use: str  # visa_attached | visa_form | visa_unmatched
    name: str = ""  # the guest's Latin name, for the message
    passport_scan: str = ""  # visa_form: the passport scan whose form gets the visa
    fill: dict[str, str] | None = None


def place_visa(kept: KeptScan, draft: Draft, desk: ScanDesk) -> VisaPlace:
    """Give a verified visa to the guest it belongs to: a guest in the party, else a passport
    scanned before it whose form is not added yet; else nobody (never a guess)."""
    result = kept.event.interpretation.mrz
    assert result is not None and result.visa
    number = str(result.fields.get("document_number") or "")
    _, drafts = draft.snapshot()
    for d in drafts:
        g = d.guest
        if same_person(result, g.surname_en, g.given_names_en, g.nationality, g.birth_date):
            draft.set_visa_number(g.guest_id, number)
            return VisaPlace("visa_attached", _name(g.surname_en, g.given_names_en))
    for passport in desk.passports():
        p = passport.event.interpretation.mrz
        assert p is not None
        f = p.fields
        if same_person(result, f.get("surname"), f.get("given_names"), f.get("nationality"),
                       f.get("birth_date")):
            desk.pair(passport.scan_id, kept)
            return VisaPlace("visa_form", _name(f.get("surname"), f.get("given_names")),
                             passport.scan_id, visa_values(p, kept))
    return VisaPlace("visa_unmatched", _name(result.fields.get("surname"),
                                             result.fields.get("given_names")))


def _name(surname: object, given: object) -> str:
    return " ".join(_words(surname) + _words(given))


def prefill_values(event: ScanEvent) -> dict[str, str]:
    """The manual form's values from an MRZ (what could be read; the clerk sees the rest)."""
    result = event.interpretation.mrz
    guest: dict[str, Any] = result.guest() if result is not None else {}
    doc_type = str(guest.get("document_type") or "")
    if event.use == "permit_prefill":
        type_code = PERMIT_TYPES.get(doc_type[:2], "21")
    elif doc_type.startswith("P"):
        type_code = PASSPORT_TYPES.get(doc_type[:2], "14")
    else:
        type_code = "99"
    values = {
        "document_type": type_code, "number": guest.get("document_number") or "",
        "surname_en": guest.get("surname") or "", "given_names_en": guest.get("given_names") or "",
        "nationality": guest.get("nationality") or "", "birth_date": guest.get("birth_date") or "",
        "sex": SEXES.get(str(guest.get("sex") or ""), ""),
        "valid_until": guest.get("expiry_date") or "",
        "issuing_country": guest.get("issuing_state") or "",
    }
    return {k: str(v) for k, v in values.items()}


def checks_view(kept: KeptScan, _: Any) -> dict[str, Any]:
    """What the form shows about the scan: each check verified, or the failing field named."""
    event = kept.event
    result = event.interpretation.mrz
    assert result is not None
    failing = result.failing_fields
    rows = [(_(FIELD_LABELS.get(c, c)), c not in failing)
            for c in MRZ_CHECKS.get(result.format, ())]
    problems = [_(FIELD_LABELS.get(p.field, p.field)) for p in result.problems
                if p.severity == "error" and p.field not in MRZ_CHECKS.get(result.format, ())]
    return {"scan_id": kept.scan_id, "use": event.use, "format": result.format,
            "rows": rows, "other_failing": sorted(set(problems)),
            "failing": sorted({_(FIELD_LABELS.get(f, f)) for f in failing}),
            "received_at": kept.received_at}


def apply_scan(guest: Guest, kept: KeptScan) -> Guest:
    """The typed guest with the scan's evidence; a verified MRZ whose number the clerk kept
    is a scanned document (no manual reason needed), anything else stays manual."""
    proof = evidence(kept.event)
    result = kept.event.interpretation.mrz
    number = str(result.fields.get("document_number") or "") if result is not None else ""
    doc = guest.document
    if kept.event.use == "passport_prefill" and doc.number == number.upper():
        doc = replace(doc, source=SCAN, manual_reason=None, mrz=proof)
    else:
        doc = replace(doc, source=MANUAL, mrz=proof)
    return replace(guest, document=doc)
