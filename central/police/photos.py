"""Guests' card photos on the police pages: the customer's WLT decoder, kept at arm's length.

The decoder is closed C code of the customer's choosing (wlt/decoder.py loads it with ctypes,
guarded by a 64 KiB output buffer, a WLT shape check and a lock). The server adds:

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

import logging
import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError

from central.logsafe import safe
from wlt.decoder import PhotoDecoderConfig, WltDecoder
from wlt.errors import PhotoDecoderError

log = logging.getLogger(__name__)
DECODED, FAILED, NOT_CONFIGURED = "decoded", "failed", "not_configured"
_Job = tuple[bytes, "Future[bytes]"]


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
