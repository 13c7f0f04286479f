"""The page's integration API: a simulated document reader and an image become events."""

from __future__ import annotations

import queue

import pytest

from drivers.barcode import synth
from drivers.barcode.hub import ScanEvent, ScanHub
from drivers.barcode.mrzbuild import MrzFields, td3
from drivers.sim.scanner import SimulatedScanner

PASSPORT = td3(MrzFields(expiry_date="320415", optional="ZE184226B"))


def test_passport_from_the_simulated_reader_and_qr_from_an_image():
    pytest.importorskip("zxingcpp")
    events: queue.Queue[ScanEvent] = queue.Queue()
    hub = ScanHub(events.put)
    with SimulatedScanner(framing="crlf") as sim:
        scanner = hub.add_serial(sim.port, framing="crlf", mrz_gap=0.5)
        hub.start()
        try:
            assert scanner.connected.wait(5)
            sim.send(PASSPORT.encode())
            passport = events.get(timeout=5)
            qr = synth.place(synth.render("qr", b"CTID\x01\x02opaque"))
            (netid,) = hub.submit_image(qr)
        finally:
            hub.stop()
    page = passport.to_json()
    assert page["use"] == "passport_prefill"
    assert page["mrz"]["guest"]["surname"] == "ERIKSSON"
    assert page["mrz"]["guest"]["document_number"] == "L898902C3"
    assert page["source"].startswith("serial:")
    assert netid.use == "attach_opaque"
    assert netid.to_json()["needs_online_verification"] is True
    assert netid.to_json()["symbology"] == "qr"
    assert events.get_nowait() is netid


@pytest.mark.parametrize(
    ("raw", "use"),
    [(PASSPORT.replace("6UTO", "5UTO").encode(), "mrz_failed"),
     (b"CSH12345678" + b"<" * 19 + b"\n" + b"<" * 30 + b"\nWANG<<WU" + b"<" * 22,
      "permit_prefill"),
     (b"https://example.org/x", "attach_text"), (b"BK-2026-0042", "attach_text"),
     ("你好".encode("gbk"), "none"), (b"4006381333931", "product"),
     ("予約".encode("shift_jis"), "uncertain_text"),
     (b"V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nL8988901C4XXX4009078F9612109<<<<<<<<", "visa"),
     (b"V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nL8988901C5XXX4009078F9612109<<<<<<<<",
      "visa_failed"),
     (b"IDFRADOE" + b"<" * 28 + b"\n8806923102858CORINNE<<<<<<<6512068F6", "unsupported")],
)
def test_uses(raw, use):
    hub = ScanHub(lambda event: None)
    try:
        assert hub.submit_raw(raw).use == use
    finally:
        hub.stop()
