"""Scans in a registration: MRZ evidence on a document, QR/booking attachments on a check-in."""

from __future__ import annotations

from dataclasses import replace

import pytest

from drivers.barcode import mrzbuild
from drivers.barcode.hub import ScanEvent
from drivers.barcode.interpret import classify
from drivers.barcode.serial_scanner import Scan
from terminal.desk.registry import Registry
from terminal.desk.scans import KeptScan, apply_scan, attachment, evidence, prefill_values
from terminal.domain.attachments import Attachment
from terminal.domain.documents import MANUAL, SCAN
from terminal.domain.events import Event, Kind
from terminal.domain.fold import fold
from terminal.errors import InvalidEventError
from terminal.store import verify
from tests.terminal.registry_helpers import passport_guest

FIELDS = mrzbuild.MrzFields(surname="MARTIN", given_names="CLAIRE", document_number="12AB34567",
                            nationality="FRA", issuing_state="FRA", birth_date="880214",
                            expiry_date="320101")


def _event(raw: bytes) -> ScanEvent:
    return ScanEvent(Scan(raw, "serial:test", 0.0), classify(raw))


def test_scanned_passport_and_attachments_are_stored_folded_and_verified(reg: Registry) -> None:
    kept = KeptScan("s1", _event(mrzbuild.td3(FIELDS).encode()), 0.0)
    values = prefill_values(kept.event)
    assert values["number"] == "12AB34567" and values["birth_date"] == "1988-02-14"
    base = passport_guest(number="12AB34567")
    guest = apply_scan(base, kept)
    assert guest.document.source == SCAN and guest.document.manual_reason is None
    assert guest.document.mrz is not None and guest.document.mrz.verified
    netid = attachment(_event(b"CTID\x80\x81"))
    booking = attachment(_event(b"BK-2026-0042"))
    assert netid.needs_online_verification and netid.text is None
    saved = reg.check_in(room="301", guests=[guest], operator="C01",
                         attachments=[netid, booking])
    stay = reg.show(saved.stay_id).stay
    assert [a["kind"] for a in stay.attachments] == ["netid", "booking"]
    stored = stay.main_guest()
    assert stored is not None and stored.document.mrz == guest.document.mrz
    assert not any(f.blocks for f in saved.findings if f.code.startswith("document.manual"))
    with reg.store.reader() as conn:
        assert verify.verify(conn) == []


def test_an_edited_number_or_a_failed_mrz_stays_typed() -> None:
    kept = KeptScan("s1", _event(mrzbuild.td3(FIELDS).encode()), 0.0)
    edited = apply_scan(passport_guest(number="12AB34568"), kept)
    assert edited.document.source == MANUAL and edited.document.mrz is not None
    line1, line2 = mrzbuild.td3(FIELDS).split("\n")
    broken = _event((line1 + "\n" + line2[:19] + "0" + line2[20:]).encode())
    proof = evidence(broken)
    assert broken.use == "mrz_failed" and proof is not None and not proof.verified
    assert "birth_date" not in proof.checks_passed and "birth_date:check_digit" in proof.problems


def test_an_unknown_attachment_does_not_fold(reg: Registry) -> None:
    saved = reg.check_in(room="302", guests=[passport_guest()], operator="C01",
                         attachments=[Attachment("booking", "BK-1")])
    with reg.store.reader() as conn:
        (payload,) = conn.execute("SELECT payload FROM events WHERE stay_id = ?",
                                  (saved.stay_id,)).fetchone()
    event = Event.from_payload(payload)
    assert event.kind is Kind.CHECK_IN
    bad = replace(event, data={**(event.data or {}), "attachments": [{"kind": "photo?"}]})
    with pytest.raises(InvalidEventError):
        fold([bad])
