"""The integration API for the front desk: every scan source in, one callback out.

    SerialScanner(s) ─┐
    WedgeScanner(s)  ─┼─> ScanHub ──interpret (payloads.classify)──> on_event(ScanEvent)
    images / camera  ─┘              (thread per device source; images on the caller's thread)

    hub = ScanHub(on_event=page_queue.put, rules=Rules(...))
    hub.add_serial("/dev/serial/by-id/usb-...", framing="crlf"); hub.start()
    hub.submit_image(uploaded_bytes)        # a camera frame or an uploaded picture
    ...; hub.stop()

`ScanEvent.to_json()` is what the page receives (e.g. over server-sent events); `use` says
what the scan is good for, without knowing about stays (drivers know nothing of registrations):

    passport_prefill   a verified ICAO MRZ: open the foreign-guest form prefilled
    permit_prefill     a CS/CT travel permit MRZ: prefill only, clerk checks every field
    mrz_failed         an MRZ with failing checks: show the failing fields, rescan or type
    visa               a verified visa MRZ (MRV-A/B): fill the visa of the guest it matches
    visa_failed        a visa MRZ with failing checks: say which, attach nothing
    unsupported        MRZ-shaped, but no layout we know: "unsupported document"
    product            an EAN/UPC product code: said so, attached nowhere
    uncertain_text     text whose encoding cannot be told (module payloads): flagged
    incomplete         one part of a multi-symbol (structured-append) QR: scan the whole set
    attach_opaque      网证 QR: attach the payload, unverified (needs online verification)
    attach_text        URL or booking reference: attach to the open stay
    none               unknown payload: show it, do nothing
Callbacks run on a hub thread: hand the event to the web layer's queue, do not block.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from drivers.barcode.errors import InputDeviceError
from drivers.barcode.image import ImageDecoder
from drivers.barcode.interpret import Interpretation, Rules, classify
from drivers.barcode.mrz import UNSUPPORTED
from drivers.barcode.serial_scanner import Scan, SerialScanner
from drivers.barcode.wedge import WedgeScanner

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScanEvent:
    scan: Scan
    interpretation: Interpretation

    @property
    def use(self) -> str:
        meaning = self.interpretation
        if meaning.kind == "mrz" and meaning.mrz is not None:
            result = meaning.mrz
            if result.format == UNSUPPORTED:
                return "unsupported"
            if result.visa:
                return "visa" if result.valid else "visa_failed"
            if not result.verified:
                return "permit_prefill"
            return "passport_prefill" if result.valid else "mrz_failed"
        if meaning.encoding_uncertain:
            return "uncertain_text"
        if meaning.details.get("incomplete"):
            return "incomplete"
        return {"netid": "attach_opaque", "url": "attach_text", "booking": "attach_text",
                "product": "product"}.get(meaning.kind, "none")  # fmt: skip

    def to_json(self) -> dict[str, object]:
        out = self.interpretation.to_json()
        out.update(
            source=self.scan.source, symbology=self.scan.symbology, use=self.use,
            received_monotonic=self.scan.received,
        )  # fmt: skip
        return out


class ScanHub:
    def __init__(
        self, on_event: Callable[[ScanEvent], None], *, rules: Rules | None = None,
        image_backend: str = "pyzbar", image_timeout: float = 2.0,
    ) -> None:  # fmt: skip
        self.on_event = on_event
        self.rules = rules or Rules()
        self._runners: list[Callable[[threading.Event], None]] = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._decoder = ImageDecoder(image_backend, timeout=image_timeout)

    def add_serial(self, url: str, **options: object) -> SerialScanner:
        scanner = SerialScanner(url, **options)  # type: ignore[arg-type]
        self._runners.append(lambda stop: scanner.run(self.submit, stop))
        return scanner

    def add_wedge(self, path: str, terminator: str = "enter") -> None:
        def run(stop: threading.Event) -> None:
            delay = 0.5
            while not stop.is_set():  # the keyboard may be unplugged and come back
                scanner = WedgeScanner(path, terminator=terminator)
                try:
                    scanner.run(lambda text: self.submit_raw(text.encode(), f"wedge:{path}"), stop)
                except InputDeviceError as err:
                    log.warning("wedge scanner %s: %s", path, err)
                    stop.wait(delay)
                    delay = min(delay * 2, 5.0)

        self._runners.append(run)

    def start(self) -> ScanHub:
        for index, runner in enumerate(self._runners):
            thread = threading.Thread(target=runner, args=(self._stop,),
                                      name=f"anju-scan-{index}", daemon=True)  # fmt: skip
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        self._decoder.close()

    def submit(self, scan: Scan) -> ScanEvent:
        meaning = classify(
            scan.raw, rules=self.rules, eci_charset=scan.eci_charset, symbology=scan.symbology
        )
        event = ScanEvent(scan, meaning)
        self.on_event(event)
        return event

    def submit_raw(self, raw: bytes, source: str = "manual") -> ScanEvent:
        return self.submit(Scan(raw, source, time.monotonic()))

    def submit_image(self, image: Image.Image | bytes | str | Path) -> list[ScanEvent]:
        """Decode a frame (worker process, time limit) and deliver one event per symbol.

        Raises DecodeError subclasses; a frame with no symbol returns [] (say so to the clerk).
        """
        events = []
        for found in self._decoder.decode(image):
            raw, charset = _declared(found.raw, found.text, found.encoding)
            scan = Scan(raw, f"image:{self._decoder.backend}", time.monotonic(),
                        symbology=found.symbology, eci_charset=charset)  # fmt: skip
            events.append(self.submit(scan))
        return events


def _declared(raw: bytes, text: str, encoding: str) -> tuple[bytes, str | None]:
    """Keep a charset the symbol declared (zxing: "eci20:shift_jis") for classify; several
    declared segments are handed over as their decoded text in UTF-8."""
    parts = encoding.split("+")
    if not any(part.startswith("eci") for part in parts):
        return raw, None
    if len(parts) == 1:
        return raw, parts[0].split(":", 1)[1]
    return text.encode("utf-8"), "utf-8"
