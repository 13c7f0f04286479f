"""Guests' card photos: found in a stay's stored events, and decoded by the customer's WLT
decoder kept at arm's length. The one owner of photo logic; central/web/photos.py is the route.

Finding. Terminals carry a card's 1024-byte WLT photo in the event payload, inside the guest's
document (`data.guests[].document.card.photo_wlt_b64` of a check-in, `data.guest.document...`
of an added companion). A guest's photo is taken from the *latest* event of the stay carrying
that guest's document ((device, sequence) order, as the stay's state folds), so a typed-in
document there means no photo. Withheld events (purged payloads) carry nothing. A value that
is not base64 is kept as empty bytes: it is a card photo that cannot be decoded, not a missing
one. Amendments never touch the card evidence, so they are not looked at. Generic on the
payload JSON, like central/stays/state.py: the server does not import the terminal's domain.

Decoding. The decoder is closed C code of the customer's choosing (wlt/decoder.py loads it with
ctypes, guarded by a 64 KiB output buffer, a WLT shape check and a lock). The server adds:

* one daemon worker thread makes every call into the library; a request waits for at most
  `timeout_s`, so a call that hangs costs that photo ("照片无法解码"), never a request thread,
  the database pool or the process's shutdown (a daemon thread does not hold up exit);
* every failure is `PhotoDecoderError` (cannot load, refused, odd output, no answer in time);
  the first failure and the recovery are logged, not every photo;
* the library is loaded when the server starts (`check`), so a wrong path or licence setup
  stops `anju central serve` with a message instead of surfacing on the first stay page.

A crash inside the library (a segfault) cannot be caught in-process: the defences above are the
guard; run several server processes behind the proxy if the vendor's code is not trusted.

    decoding = PhotoDecoding(settings.photo_library, settings.photo_licence_code, 2.0)
    decoding.states({guest_id: wlt})  ->  {guest_id: "decoded" | "failed" | "not_configured"}
    decoding.png(wlt)                 ->  PNG bytes, or PhotoDecoderError
"""

from __future__ import annotations

import base64
import binascii
import logging
import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import Any

from sqlalchemy import Connection, select

from central.accounts.principals import Principal
from central.db.tables import events, stays
from central.errors import CentralError, NotFoundError
from central.logsafe import safe
from central.police.record import payload_data
from central.police.search import scope_ok
from wlt.decoder import PhotoDecoderConfig, WltDecoder
from wlt.errors import PhotoDecoderError

log = logging.getLogger(__name__)
DECODED, FAILED, NOT_CONFIGURED = "decoded", "failed", "not_configured"
_Job = tuple[bytes, "Future[bytes]"]

CARRIERS = ("check_in", "add_guest")


def card_photos(conn: Connection, stay_id: str) -> dict[str, bytes]:
    """guest_id -> WLT bytes, for the guests whose latest document came from a card."""
    owner = select(stays.c.device_id).where(stays.c.stay_id == stay_id).scalar_subquery()
    rows = conn.execute(select(events.c.kind, events.c.payload)
                        .where(events.c.stay_id == stay_id, events.c.device_id == owner,
                               events.c.kind.in_(CARRIERS), events.c.payload.is_not(None))
                        .order_by(events.c.sequence)).all()
    latest: dict[str, bytes | None] = {}
    for row in rows:
        data = payload_data(row.payload)
        carried = data.get("guests") if row.kind == "check_in" else [data.get("guest")]
        for guest in carried if isinstance(carried, list) else []:
            if isinstance(guest, dict) and isinstance(guest.get("guest_id"), str) \
                    and isinstance(guest.get("document"), dict):
                latest[guest["guest_id"]] = _wlt(guest["document"])
    return {guest_id: wlt for guest_id, wlt in latest.items() if wlt is not None}


def card_photo(conn: Connection, stay_id: str, guest_id: str, who: Principal) -> bytes:
    """One guest's WLT bytes; NotFound when the stay is outside `who`'s district (as the stay
    page answers) or the guest has no card photo."""
    site_code = conn.execute(select(stays.c.site_code)
                             .where(stays.c.stay_id == stay_id)).scalar_one_or_none()
    if site_code is None or not scope_ok(conn, who, site_code):
        raise NotFoundError("no such stay")
    wlt = card_photos(conn, stay_id).get(guest_id)
    if wlt is None:
        raise NotFoundError("no card photo for this guest")
    return wlt


def _wlt(document: dict[str, Any]) -> bytes | None:
    card = document.get("card")
    encoded = card.get("photo_wlt_b64") if isinstance(card, dict) else None
    if not isinstance(encoded, str) or not encoded:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return b""


class PhotoDecoding:
    """The configured decoder behind one worker thread and a time bound; inert when the
    library path is empty."""

    def __init__(self, library: str, licence_code: int, timeout_s: float, *,
                 function: str = "unpack") -> None:
        config = PhotoDecoderConfig(library, licence_code, function) if library else None
        self.decoder = WltDecoder(config)
        self.timeout_s = timeout_s
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._failing = False

    @property
    def configured(self) -> bool:
        return self.decoder.configured

    def check(self) -> None:
        """Load the library now; PhotoDecoderError if it cannot be (nothing when unconfigured)."""
        self.decoder.check()

    def png(self, wlt: bytes, timeout_s: float | None = None) -> bytes:
        """The photo as PNG (blocking: call from a worker thread). PhotoDecoderError when not
        configured, when the decoder fails, or when it has not answered within `timeout_s`
        (default: the configured bound)."""
        if not self.configured:
            raise PhotoDecoderError("photo decoder: not configured")
        bound = self.timeout_s if timeout_s is None else max(timeout_s, 0.0)
        job: Future[bytes] = Future()
        self._start()
        self._jobs.put((wlt, job))
        try:
            png = job.result(timeout=bound)
        except FutureTimeoutError as err:
            job.cancel()  # still queued: skipped; already running: its answer is dropped
            timeout = PhotoDecoderError(f"photo decoder: no answer in {bound:g} s")
            self._note(timeout)
            raise timeout from err
        except PhotoDecoderError as err:
            self._note(err)
            raise
        self._note(None)
        return png

    def states(self, photos: dict[str, bytes]) -> dict[str, str]:
        """What the stay page shows for each guest with a card photo (blocking, at most
        `timeout_s` for the whole page however many guests it has)."""
        out = {}
        deadline = time.monotonic() + self.timeout_s
        for guest_id, wlt in photos.items():
            if not self.configured:
                out[guest_id] = NOT_CONFIGURED
                continue
            try:
                self.png(wlt, deadline - time.monotonic())
            except PhotoDecoderError:
                out[guest_id] = FAILED
            else:
                out[guest_id] = DECODED
        return out

    def close(self) -> None:
        """Let the worker end after the call in hand (it never blocks exit anyway)."""
        with self._lock:
            if self._worker is not None:
                self._jobs.put(None)
                self._worker = None

    def _start(self) -> None:
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="wlt-decoder",
                                                daemon=True)
                self._worker.start()

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
            wlt, job = item
            if not job.set_running_or_notify_cancel():
                continue  # its caller gave up waiting
            try:
                job.set_result(self.decoder.decode(wlt).png or b"")
            except PhotoDecoderError as err:
                job.set_exception(err)
            except Exception as err:  # foreign code: anything it raises maps to the one error
                job.set_exception(PhotoDecoderError(f"photo decoder: {type(err).__name__}: {err}"))

    def _note(self, error: PhotoDecoderError | None) -> None:
        with self._lock:
            if error is not None and not self._failing:
                log.warning("photo decoder failing: %s", safe(error))
            elif error is None and self._failing:
                log.info("photo decoder decoding again")
            self._failing = error is not None


def start_decoding(library: str, licence_code: int, timeout_s: float) -> PhotoDecoding:
    """The configured decoder, its library loaded now: CentralError (the server does not
    start) when it cannot be loaded."""
    decoding = PhotoDecoding(library, licence_code, timeout_s)
    try:
        decoding.check()
    except PhotoDecoderError as err:
        raise CentralError(str(err), code="photo_decoder") from err
    return decoding
