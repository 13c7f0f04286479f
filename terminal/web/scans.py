"""Scans at the front desk: what a ScanEvent becomes on the page and in the registration.

    ScanHub thread ──on_event──> ScanDesk.receive ──> kept by id (bounded, memory only)
        passport_prefill / permit_prefill / mrz_failed ──notice "scan" {url}──> page opens
            /manual?scan=ID: the foreign-guest form prefilled, each MRZ check shown
        attach_opaque / attach_text ──> Draft.attach ──notice "draft"──> shown in the party
        none ──notice "scan"──> a one-line message

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
from typing import Any

from drivers.barcode.hub import ScanEvent
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

    def clear(self) -> None:
        with self._lock:
            self._scans.clear()


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
