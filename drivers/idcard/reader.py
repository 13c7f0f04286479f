"""The reader loop: poll for cards, read each placement exactly once, survive unplugging.

States (one `CardReader` owns one transport; `poll_once()` advances by one poll)::

    disconnected --open ok--> idle --find 9F, select, read ok--> holding(id) --gone x2--> idle
         ^                     |  \\--transient failure x N--> replace (ask: remove and re-place)
         +----- port error ----+

Whether a real reader keeps answering "found" for a card left in place is disputed (reference
§6.4), so "gone" is decided without relying on either behaviour: while holding, a poll whose find
says 0x80 is followed by a direct read; the card counts as gone only when both fail on
`absent_polls` consecutive polls, and a read of the same card (either way) keeps it held. A card
with a different number is a new placement even if no absence was seen in between. The hold
survives a reconnect (USB replug, re-probe after noise): only lifting the card ends a placement,
so the same card lifted and re-placed while the reader was unplugged is not read again.

Time comes from an injected `clock` (monotonic seconds; `time.monotonic` in service): backoff,
`since` and `last_progress` all read it, and the transport measures its timeouts with the same
one. `run()` polls in a thread in real time; tests with a virtual clock call `poll_once()` and
move the clock themselves, so a poll that waits out a timeout costs no real time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from drivers.idcard import codec, sam_answers
from drivers.idcard.cards import decode_appended_addresses, decode_text_block, format_sam_id
from drivers.idcard.codec import Status
from drivers.idcard.errors import (
    CardDecodeError,
    ChecksumError,
    FrameError,
    ReaderFaultError,
    ReaderStatusError,
    ReaderTimeoutError,
    TransportError,
)
from drivers.idcard.reading import CardRead
from drivers.idcard.state import ReaderState
from drivers.idcard.transport import Clock, Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReaderSettings:
    poll_interval: float = 0.3  # vendor guidance: poll no faster than ~300 ms (§6.3)
    absent_polls: int = 2  # consecutive "not there" polls before a card counts as lifted
    replace_after: int = 3  # consecutive failed reads before asking to re-place the card
    lost_after: int = 3  # consecutive unanswered polls before the reader counts as gone
    read_fingerprint: bool = False
    read_appended_address: bool = True
    reconnect_min: float = 0.5  # backoff while the port is gone
    reconnect_max: float = 5.0


@dataclass(frozen=True, slots=True)
class ReaderStatus:
    """What the page and `anju card info` show about the reader."""

    state: ReaderState = ReaderState.DISCONNECTED
    port: str = ""
    connected: bool = False
    baud: int | None = None
    sam_id: str | None = None
    last_error: str | None = None
    reads: int = 0
    failures: int = 0
    reconnects: int = 0
    since: float = field(default_factory=time.monotonic)


class CardReader:
    """Turns a polled reader into one `on_card` call per placement of a card."""

    def __init__(
        self,
        transport: Transport,
        on_card: Callable[[CardRead], None],
        *,
        settings: ReaderSettings | None = None,
        on_status: Callable[[ReaderStatus], None] | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.transport = transport
        self.settings = settings or ReaderSettings()
        self._on_card = on_card
        self._on_status = on_status
        self._clock = clock
        self._status = ReaderStatus(port=transport.url, since=clock())
        self._held: str | None = None  # identity of the card on the reader
        self._pending = False  # a card was found but its read has not completed yet
        self._absent = 0
        self._failed = 0
        self._unanswered = 0
        self._retry_at = 0.0
        self._backoff = self.settings.reconnect_min
        self._ever_connected = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Monotonic time the loop last went round: a supervisor's proof that it is not stuck.
        self.last_progress = clock()

    @property
    def status(self) -> ReaderStatus:
        return self._status

    # ---- thread -----------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self.last_progress = self._clock()
        self._thread = threading.Thread(target=self.run, name="idcard-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.transport.close()

    def run(self) -> None:
        """Poll until `stop()`; each poll is bounded by the transport's timeouts."""
        while not self._stop.is_set():
            started = self.last_progress = self._clock()
            self.poll_once()
            elapsed = self._clock() - started
            self._stop.wait(max(self.settings.poll_interval - elapsed, 0.0))

    # ---- one poll ---------------------------------------------------------------------------

    def poll_once(self) -> CardRead | None:
        """Advance the state machine by one poll; returns a reading when one was emitted."""
        if not self.transport.is_open and not self._connect():
            return None
        try:
            card = self._poll()
        except (ReaderTimeoutError, ChecksumError) as err:
            self._no_answer(err)
        except TransportError as err:
            self._lost(err)
        except ReaderFaultError as err:
            self._fault(err)
        else:
            self._unanswered = 0
            return card
        return None

    def _fault(self, err: Exception) -> None:
        if self._status.state is not ReaderState.FAULT:
            log.error("reader on %s cannot work: %s", self.transport.url, err)
        self.transport.close()  # re-probe later with backoff: a power cycle may cure it
        self._set(state=ReaderState.FAULT, connected=False, last_error=str(err))
        self._schedule_retry()

    def _no_answer(self, err: Exception) -> None:
        """A lost or corrupted answer: noise, unless it keeps happening (then re-probe)."""
        self._unanswered += 1
        if self._unanswered >= self.settings.lost_after:
            self._unanswered = 0
            self._lost(err)  # the reader may have been power-cycled into another baud
        else:
            self._set(failures=self._status.failures + 1, last_error=str(err))

    def _connect(self) -> bool:
        now = self._clock()
        if now < self._retry_at:
            return False
        try:
            baud = self.transport.open()
            sam = self.transport.transact(codec.READ_SAM_ID)
            sam_id = format_sam_id(sam.data) if sam.status.is_success else None
            # Optional tuning that Routon's own host and others send once; harmless if refused.
            self.transport.transact(codec.SET_MAX_RF_BYTES, b"\x50")
        except ReaderFaultError as err:
            self._fault(err)
            return False
        except (TransportError, FrameError) as err:
            self._lost(err)
            return False
        reconnects = self._status.reconnects + (1 if self._ever_connected else 0)
        if self._ever_connected:
            log.warning("reader on %s is back at %d baud", self.transport.url, baud)
        self._ever_connected = True
        self._backoff = self.settings.reconnect_min
        # `_held` survives the reconnect: a card still on the reader after a replug (or after a
        # re-probe caused by line noise) is the same placement; lifting it clears the hold.
        self._absent, self._failed = 0, 0
        self._set(
            state=ReaderState.IDLE, connected=True, baud=baud, sam_id=sam_id, last_error=None,
            reconnects=reconnects,
        )
        return True

    def _lost(self, err: Exception) -> None:
        if self._status.connected or self._status.last_error is None:
            log.warning("reader on %s unavailable: %s", self.transport.url, err)
        self.transport.close()
        self._set(state=ReaderState.DISCONNECTED, connected=False, baud=None, last_error=str(err))
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        self._retry_at = self._clock() + self._backoff
        self._backoff = min(self._backoff * 2, self.settings.reconnect_max)

    def _poll(self) -> CardRead | None:
        found = self.transport.transact(codec.FIND_CARD)
        if found.status.is_fatal:
            raise ReaderFaultError(str(found.status))
        if found.status is Status.CARD_FOUND:
            # Until the read completes, a reader that goes quiet after answering a read (§6.4)
            # may already consider this card done: keep asking it directly on later polls.
            self._pending = True
            return self._read_placed_card(select=True)
        if found.status is Status.UNKNOWN_CARD_TYPE:
            self._read_failed(f"not an ID card: {found.status}")  # e.g. a bank card
            return None
        if self._held is not None or self._pending:
            # Some readers go quiet for a card that was read and stays put (§6.4): ask directly.
            return self._read_placed_card(select=False)
        self._card_absent()
        return None

    def _read_placed_card(self, *, select: bool) -> CardRead | None:
        try:
            card = self._read_card(select=select)
        except ReaderStatusError as err:
            status = err.status
            if isinstance(status, Status) and status.is_fatal:
                raise ReaderFaultError(str(status)) from err
            if not select:
                # Find said "no card" and a direct read fails: the card is lifted, or this read
                # failed by chance; only `absent_polls` such polls in a row count as lifted.
                self._card_absent()
                return None
            self._read_failed(str(err))
            return None
        except ChecksumError:
            raise  # the wire, not the card: handled as an unanswered poll
        except (CardDecodeError, FrameError) as err:
            self._read_failed(str(err))
            return None
        self._failed = 0
        self._absent = 0
        self._pending = False
        identity = f"{card.card_type}:{card.id_number}:{card.photo_sha256}"
        if identity == self._held:
            if self._status.state is not ReaderState.HOLDING:
                self._set(state=ReaderState.HOLDING, last_error=None)
            return None
        self._held = identity
        self._set(state=ReaderState.HOLDING, reads=self._status.reads + 1, last_error=None)
        self._on_card(card)
        return card

    def _read_card(self, *, select: bool) -> CardRead:
        if select:
            self._expect(codec.SELECT_CARD)
        command = (
            codec.READ_BASE_FINGERPRINT if self.settings.read_fingerprint else codec.READ_BASE
        )
        response = self._expect(command)
        message = sam_answers.decode_base_message(
            response.data, with_fingerprint=self.settings.read_fingerprint
        )
        addresses: tuple[str, ...] = ()
        if self.settings.read_appended_address:
            # Allowed without re-authentication right after a base read while the card stays.
            appended = self.transport.transact(codec.READ_APPENDED_ADDRESS)
            if appended.status is Status.SUCCESS:
                addresses = decode_appended_addresses(appended.data)
        return decode_text_block(
            message.text,
            message.photo,
            fingerprint=message.fingerprint,
            appended_addresses=addresses,
            sam_id=self._status.sam_id,
        )

    def _expect(self, command: codec.Command) -> codec.Response:
        response = self.transport.transact(command)
        if response.status not in command.success:
            raise ReaderStatusError(command.name, response.status)
        return response

    def _card_absent(self) -> None:
        if self._held is None and not self._pending:
            if self._status.state is ReaderState.REPLACE and self._failed:
                self._failed = 0
                self._set(state=ReaderState.IDLE)
            return
        self._absent += 1
        if self._absent >= self.settings.absent_polls:
            self._held, self._pending, self._absent, self._failed = None, False, 0, 0
            self._set(state=ReaderState.IDLE)

    def _read_failed(self, reason: str) -> None:
        self._failed += 1
        failures = self._status.failures + 1
        if self._failed >= self.settings.replace_after:
            self._set(state=ReaderState.REPLACE, failures=failures, last_error=reason)
        else:
            self._set(failures=failures, last_error=reason)

    def _set(self, **changes: object) -> None:
        if "state" in changes and changes["state"] != self._status.state:
            changes["since"] = self._clock()
        self._status = replace(self._status, **changes)  # type: ignore[arg-type]
        if self._on_status is not None:
            self._on_status(self._status)
