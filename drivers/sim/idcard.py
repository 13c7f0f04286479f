"""A protocol-faithful GA 467 ID card reader on a pseudo-terminal, for the demo, tests and bench.

    sim = SimulatedReader(faults="noise,split", seed=7).start()
    serial.Serial(sim.port, 115200)       # sim.port: a stable symlink to the current /dev/pts/N
    sim.place(card); ...; sim.remove(); sim.stop()

One background thread polls the pty master (20 ms timeout, so `stop()` is prompt), feeds a
`RequestDecoder`, lets `SamState` answer, and writes the answer through the fault plan.

Simulated wire (see `wire.py`): the SAM listens at `baud` (default 115200; command 60 0x is
acknowledged at the OLD rate, then the rate switches). While the host's configured rate differs,
requests are lost and answers arrive as junk, so a host's baud probe is really exercised;
`enforce_baud=False` turns that off for hosts that cannot set a pty's rate. `pace=True` spends
the 8N1 wire time; `card_seconds` adds RF/authentication time before select and read answers.

Unplug (the `unplug` fault, or `unplug()` on demand) closes the pty and removes the symlink; on
re-plug a NEW pty appears, the symlink is re-pointed, and the SAM is re-powered (default rate,
no card session), as after USB re-enumeration.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Iterable, Sequence
from types import TracebackType

from drivers.idcard.codec import (
    READ_BASE,
    READ_BASE_FINGERPRINT,
    SELECT_CARD,
    Request,
    RequestDecoder,
    Response,
    Status,
    command_for,
)
from drivers.sim.faults import FaultInjector, FaultPlan
from drivers.sim.ptyport import LINK_NAME, PtyPort
from drivers.sim.sam import DEFAULT_SAM_ID, CardLeftMode, SamState, SimCard
from drivers.sim.schedule import CardSchedule, Step
from drivers.sim.wire import SimStats, Wire

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.02
_CARD_COMMANDS = frozenset({SELECT_CARD, READ_BASE, READ_BASE_FINGERPRINT})


class SimulatedReader:
    """A simulated reader; `start()` it, talk to `.port`, `stop()` it (or use `with`)."""

    def __init__(
        self,
        *,
        baud: int = 115200,
        card_left_mode: CardLeftMode = "answers",
        sam_id: bytes = DEFAULT_SAM_ID,
        sam_status: Status = Status.SUCCESS,
        faults: FaultPlan | str | None = None,
        seed: int | None = None,
        enforce_baud: bool = True,
        pace: bool = False,
        card_seconds: float = 0.0,
        link_dir: str | os.PathLike[str] | None = None,
        link_name: str = LINK_NAME,
    ) -> None:
        plan = faults if isinstance(faults, FaultPlan) else FaultPlan.parse(faults)
        self.sam = SamState(
            sam_id=sam_id, card_left_mode=card_left_mode, baud=baud, sam_status=sam_status
        )
        self.faults = FaultInjector(plan, seed)
        self.enforce_baud = enforce_baud
        self.pace = pace
        self.card_seconds = card_seconds
        self.stats = SimStats()
        self._link_dir = link_dir
        self._link_name = link_name
        self._pty: PtyPort | None = None
        self._wire: Wire | None = None
        self._decoder = RequestDecoder()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._cond = threading.Condition(self.sam.lock)  # guards schedule and plug requests
        self._schedule: CardSchedule | None = None
        self._unplug_request: float | None = None  # seconds to stay away (inf: until replug())
        self._replug_at: float | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SimulatedReader:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._stop.clear()  # a stopped simulator may be started again
        self._pty = PtyPort(self._link_dir, self._link_name)
        self._wire = Wire(self._pty, self.faults, self.stats, self._stop,
                          enforce_baud=self.enforce_baud, pace=self.pace)  # fmt: skip
        self._thread = threading.Thread(target=self._run, name="anju-sim-idcard", daemon=True)
        self._thread.start()
        log.info("simulated reader on %s -> %s", self._pty.link, self._pty.device)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError("simulator thread did not stop")
            self._thread = None
        if self._pty is not None:
            self._pty.close()
            self._pty = None

    def __enter__(self) -> SimulatedReader:
        return self if self._thread is not None else self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> str:
        """The stable symlink a host opens; it survives unplug/re-plug (path of the pty changes)."""
        if self._pty is None:
            raise RuntimeError("simulator not started")
        return str(self._pty.link)

    @property
    def device(self) -> str | None:
        """The current /dev/pts/N, or None while unplugged."""
        return self._pty.device if self._pty is not None else None

    @property
    def baud(self) -> int:
        """The SAM's current rate (changes after a 60 0x command, resets on re-plug)."""
        return self.sam.baud

    @property
    def reads(self) -> int:
        return self.sam.reads

    # ---- the card ----------------------------------------------------------------------------

    def place(self, card: SimCard) -> None:
        """Put a card on the reader (cancels any script or cycle)."""
        with self._cond:
            self._schedule = None
            self.sam.place(card)

    def remove(self) -> None:
        with self._cond:
            self._schedule = None
            self.sam.remove()

    def script(self, steps: Iterable[Step]) -> None:
        """Play (card or None, seconds) steps once, in the simulator thread; the last one stays."""
        with self._cond:
            self._schedule = CardSchedule.once(steps)

    def cycle(self, cards: Sequence[SimCard], present: float, absent: float) -> None:
        """Forever: each card on the reader for `present` s, then an empty reader for `absent` s."""
        schedule = CardSchedule.cycling(cards, present, absent)
        with self._cond:
            self._schedule = schedule

    # ---- unplug ------------------------------------------------------------------------------

    def unplug(self, for_seconds: float | None = None, timeout: float = 5.0) -> None:
        """Make the device vanish; returns once it has. None: until `replug()` is called."""
        if self._thread is None:
            raise RuntimeError("simulator not started")
        with self._cond:
            before = self.stats.unplugs
            self._unplug_request = math.inf if for_seconds is None else for_seconds
            if not self._cond.wait_for(lambda: self.stats.unplugs > before, timeout):
                raise TimeoutError("simulator did not unplug")

    def replug(self, timeout: float = 5.0) -> None:
        """End an unplug now; returns once the new pty and symlink exist."""
        with self._cond:
            if self._replug_at is not None:
                self._replug_at = 0.0
            if not self._cond.wait_for(lambda: self._replug_at is None, timeout):
                raise TimeoutError("simulator did not re-plug")

    def wait_plugged(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._replug_at is None, timeout)

    # ---- the simulator thread ----------------------------------------------------------------

    def _run(self) -> None:
        pty = self._pty
        assert pty is not None
        while not self._stop.is_set():
            try:
                self._advance(time.monotonic())
                if not pty.plugged:
                    self._stop.wait(_POLL_SECONDS)
                elif pty.wait_readable(_POLL_SECONDS):
                    data = pty.read()
                    if data:
                        self._receive(data)
            except OSError:
                # A device that dies on one odd OS error would make a poor test double: log it
                # and keep serving, as firmware would after a glitch.
                log.exception("simulated reader: I/O error; continuing")
                self._stop.wait(_POLL_SECONDS)

    def _advance(self, now: float) -> None:
        """Apply plug requests and due schedule steps (both happen in this thread only)."""
        with self._cond:
            if self._unplug_request is not None:
                self._do_unplug(self._unplug_request)
            if self._replug_at is not None and now >= self._replug_at:
                self._do_replug()
            due = self._schedule.due(now, self._stretch) if self._schedule else None
            if due is not None:
                card = due[0]
                if card is None:
                    self.sam.remove()
                else:
                    self.sam.place(card)

    def _stretch(self, card: SimCard) -> float:
        """The `left` fault: this guest leaves the card on the reader for longer."""
        return self.faults.plan.left_factor if self.faults.happens("left") else 1.0

    def _do_unplug(self, seconds: float) -> None:
        assert self._pty is not None
        self._unplug_request = None
        if self._pty.plugged:
            log.warning("simulated reader unplugged from %s", self._pty.device)
            self._pty.unplug()
            self._decoder.reset()
            self.sam.power_cycle()
            self.stats.unplugs += 1
        self._replug_at = time.monotonic() + seconds
        self._cond.notify_all()

    def _do_replug(self) -> None:
        assert self._pty is not None
        try:
            self._pty.plug()
        except OSError:
            log.exception("simulated reader: cannot create a new pty; retrying")
            self._replug_at = time.monotonic() + 0.5
            return
        self._replug_at = None
        self.stats.plugs += 1
        log.warning("simulated reader back on %s -> %s", self._pty.link, self._pty.device)
        self._cond.notify_all()

    def _receive(self, data: bytes) -> None:
        wire = self._wire
        assert wire is not None
        if not wire.rate_matches(self.sam.baud):
            # At the wrong rate the UART only sees framing errors: nothing decodes, no answer.
            self.stats.garbled_bytes += len(data)
            self._decoder.reset()
            return
        stats = self._decoder.stats
        bad_checksum, bad_length = stats.bad_checksum, stats.bad_length
        requests = self._decoder.feed(data)
        for _ in range(stats.bad_checksum - bad_checksum):
            wire.send(Response(Status.HOST_CHECKSUM_ERROR).to_bytes(), self.sam.baud)
        if stats.bad_length > bad_length:  # one bad header may be counted twice while hunting
            wire.send(Response(Status.HOST_LENGTH_ERROR).to_bytes(), self.sam.baud)
        for request in requests:
            self._answer(request, wire)

    def _answer(self, request: Request, wire: Wire) -> None:
        self.stats.requests += 1
        faults = self.faults
        if faults.happens("unplug"):
            with self._cond:
                self._do_unplug(faults.plan.unplug_seconds)
            return
        if faults.happens("drop"):
            self.stats.dropped += 1
            return
        command = command_for(request)
        transient = None
        if command in _CARD_COMMANDS:
            if faults.happens("transient"):
                transient = faults.transient_status(is_select=command is SELECT_CARD)
            if self.card_seconds:
                self._stop.wait(self.card_seconds)
        rate = self.sam.baud  # before handling: a set-baud acknowledgement uses the old rate
        response = self.sam.handle(request, transient)
        log.debug("request %02X %02X -> %s", request.cmd, request.para, response.status)
        wire.send(response.to_bytes(), rate)
        if self.sam.baud != rate:
            log.info("simulated SAM now at %d bps", self.sam.baud)
