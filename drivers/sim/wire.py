"""The simulated UART between the SAM and the host: rate matching, faults on the way out, pacing.

A pty has no line, so this module makes up for it:

* rate: bytes only get through when the host's configured rate (read from the pty's termios)
  equals the SAM's. Otherwise requests are lost (the SAM would see framing errors) and answers
  reach the host as junk of a different length, so a host's baud probe is really exercised.
* faults, in wire order: slow (delay) -> corrupt (checksum) -> noise (junk before the frame) ->
  split (chunks with tiny gaps, as USB-serial bridges deliver).
* pace: spend each chunk's 8N1 wire time (10 bit times per byte) at the SAM's rate.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from drivers.sim.faults import FaultInjector
from drivers.sim.ptyport import PtyPort

log = logging.getLogger(__name__)


@dataclass(slots=True)
class SimStats:
    requests: int = 0  # well-formed requests received at the right rate
    answers: int = 0
    garbled_bytes: int = 0  # bytes received while the host's rate did not match
    dropped: int = 0  # requests ignored by the `drop` fault
    lost_answers: int = 0  # answers the host never read (pty buffer full, or unplugged)
    unplugs: int = 0
    plugs: int = 1


class Wire:
    """Used by the simulator thread only; `stop` cuts every wait short."""

    def __init__(
        self,
        pty: PtyPort,
        faults: FaultInjector,
        stats: SimStats,
        stop: threading.Event,
        *,
        enforce_baud: bool,
        pace: bool,
    ) -> None:
        self.pty = pty
        self.faults = faults
        self.stats = stats
        self.stop = stop
        self.enforce_baud = enforce_baud
        self.pace = pace
        self._warned_termios = False

    def rate_matches(self, rate: int) -> bool:
        if not self.enforce_baud:
            return True
        host = self.pty.host_baud()
        if host is None:
            if not self._warned_termios:
                log.warning("cannot read the host's rate from the pty; baud not enforced")
                self._warned_termios = True
            return True
        return host == rate

    def send(self, frame: bytes, rate: int) -> None:
        """Write one answer at `rate` through the fault plan."""
        faults = self.faults
        if faults.happens("slow"):
            self.stop.wait(faults.slow_delay())
        if faults.happens("corrupt"):
            frame = faults.corrupt(frame)
        if faults.happens("noise"):
            frame = faults.noise() + frame
        pieces = faults.chunks(frame) if faults.happens("split") else [(frame, 0.0)]
        if not self.rate_matches(rate):  # checked now: the host may have moved on meanwhile
            ratio = (self.pty.host_baud() or rate) / rate
            pieces = [(faults.garble(chunk, ratio), pause) for chunk, pause in pieces]
        deadline = time.monotonic() + 1.0 + len(frame) * 10 / rate
        for chunk, pause in pieces:
            if not self.pty.write(chunk, deadline):
                self.stats.lost_answers += 1
                return
            wait = pause + (len(chunk) * 10 / rate if self.pace else 0.0)
            if wait and self.stop.wait(wait):
                return
        self.stats.answers += 1
