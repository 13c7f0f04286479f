"""A protocol-faithful GA 467 ID card reader on a pseudo-terminal, for the demo, tests and bench.

    sim = SimulatedReader(faults="noise,split", seed=7).start()
    serial.Serial(sim.port, 115200)       # sim.port: a stable symlink to the current /dev/pts/N
    sim.place(card); ...; sim.remove(); sim.stop()

This is the pty shell around the sans-IO `SimDevice` (device.py): one background thread polls
the pty master (20 ms timeout, so `stop()` is prompt), hands the bytes and the host's rate (read
from the pty's termios) to the device, waits out each answer's delay and writes it. The reader
loop's own tests use the same device through an in-memory line instead (link.py).

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

from drivers.idcard.codec import Status
from drivers.sim.device import SimDevice, Unplug
from drivers.sim.faults import FaultInjector, FaultPlan
from drivers.sim.ptyport import LINK_NAME, PtyPort
from drivers.sim.sam import DEFAULT_SAM_ID, CardLeftMode, SamState, SimCard
from drivers.sim.schedule import Step
from drivers.sim.wire import SimStats, Transmission

log = logging.getLogger(__name__)

_POLL_SECONDS = 0.02


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
        self.core = SimDevice(  # the sans-IO device; this class is its pty shell
            baud=baud, card_left_mode=card_left_mode, sam_id=sam_id, sam_status=sam_status,
            faults=faults, seed=seed, enforce_baud=enforce_baud, pace=pace,
            card_seconds=card_seconds,
        )  # fmt: skip
        self._link_dir = link_dir
        self._link_name = link_name
        self._pty: PtyPort | None = None
        self._warned_termios = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # Guards the device (cards placed from other threads) and plug requests.
        self._cond = threading.Condition(self.core.sam.lock)
        self._unplug_request: float | None = None  # seconds to stay away (inf: until replug())
        self._replug_at: float | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SimulatedReader:
        if self._thread is not None:
            raise RuntimeError("simulator already started")
        self._stop.clear()  # a stopped simulator may be started again
        self._pty = PtyPort(self._link_dir, self._link_name)
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
    def sam(self) -> SamState:
        return self.core.sam

    @property
    def faults(self) -> FaultInjector:
        return self.core.faults

    @property
    def stats(self) -> SimStats:
        return self.core.stats

    @property
    def baud(self) -> int:
        """The SAM's current rate (changes after a 60 0x command, resets on re-plug)."""
        return self.core.sam.baud

    @property
    def reads(self) -> int:
        return self.core.sam.reads

    # ---- the card ----------------------------------------------------------------------------

    def place(self, card: SimCard) -> None:
        """Put a card on the reader (cancels any script or cycle)."""
        with self._cond:
            self.core.place(card)

    def remove(self) -> None:
        with self._cond:
            self.core.remove()

    def script(self, steps: Iterable[Step]) -> None:
        """Play (card or None, seconds) steps once, in the simulator thread; the last one stays."""
        with self._cond:
            self.core.script(steps)

    def cycle(self, cards: Sequence[SimCard], present: float, absent: float) -> None:
        """Forever: each card on the reader for `present` s, then an empty reader for `absent` s."""
        with self._cond:
            self.core.cycle(cards, present, absent)

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
            self.core.advance(now)

    def _do_unplug(self, seconds: float) -> None:
        assert self._pty is not None
        self._unplug_request = None
        if self._pty.plugged:
            log.warning("simulated reader unplugged from %s", self._pty.device)
            self._pty.unplug()
            self.core.unplugged()
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

    def _host_rate(self) -> int | None:
        """The rate the host set on the pty; None (not enforced) if termios cannot tell."""
        assert self._pty is not None
        rate = self._pty.host_baud()
        if rate is None and self._pty.plugged and not self._warned_termios:
            log.warning("cannot read the host's rate from the pty; baud not enforced")
            self._warned_termios = True
        return rate

    def _receive(self, data: bytes) -> None:
        with self._cond:
            outputs = self.core.receive(data, self._host_rate())
        for output in outputs:
            if isinstance(output, Unplug):
                with self._cond:
                    self._do_unplug(output.seconds)
                return
            self._send(output)

    def _send(self, transmission: Transmission) -> None:
        """Wait out the answer's delay, then write it as the host's rate now lets it arrive."""
        assert self._pty is not None
        if transmission.delay and self._stop.wait(transmission.delay):
            return
        with self._cond:  # the garbling draws share the device's generator
            chunks = self.core.wire.on_line(transmission, self._host_rate())
        deadline = time.monotonic() + 1.0 + transmission.size * 10 / transmission.rate
        for chunk, pause in chunks:
            if not self._pty.write(chunk, deadline):
                self.stats.lost_answers += 1
                return
            if pause and self._stop.wait(pause):
                return
        self.stats.answers += 1
