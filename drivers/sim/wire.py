"""The simulated UART between the SAM and the host, without I/O: rate matching, faults, pacing.

A simulated line has no wire, so this module makes up for it, for both shells (the pty in
`idcard.py`, the in-memory line in `link.py`):

* rate: bytes only get through when the host's configured rate equals the SAM's. Otherwise
  requests are lost (the SAM would see framing errors) and answers reach the host as junk of a
  different length, so a host's baud probe is really exercised.
* faults, in wire order: slow (delay) -> corrupt (checksum) -> noise (junk before the frame) ->
  split (chunks with tiny gaps, as USB-serial bridges deliver). They are drawn when the SAM
  answers (`transmission()`); garbling is decided when the answer goes on the line
  (`on_line()`), because the host may change its rate while the SAM is still thinking.
* pace: each chunk is followed by its 8N1 wire time (10 bit times per byte) at the SAM's rate.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.sim.faults import FaultInjector

Chunk = tuple[bytes, float]  # bytes, then seconds before the next chunk may follow


@dataclass(slots=True)
class SimStats:
    requests: int = 0  # well-formed requests received at the right rate
    answers: int = 0
    garbled_bytes: int = 0  # bytes received while the host's rate did not match
    dropped: int = 0  # requests ignored by the `drop` fault
    lost_answers: int = 0  # answers the host never read (pty buffer full, or unplugged)
    unplugs: int = 0
    plugs: int = 1


@dataclass(frozen=True, slots=True)
class Transmission:
    """One answer on its way out: after `delay` seconds its chunks go on the line at `rate`."""

    delay: float  # card RF time plus the `slow` fault
    chunks: tuple[Chunk, ...]  # the frame after corrupt and noise, split or whole
    rate: int  # the SAM's rate when it answered (a set-baud acknowledgement uses the old one)

    @property
    def size(self) -> int:
        return sum(len(chunk) for chunk, _ in self.chunks)


class Wire:
    """The line's fault plan and rate rule; the shells own the bytes and the time."""

    def __init__(
        self, faults: FaultInjector, stats: SimStats, *, enforce_baud: bool, pace: bool
    ) -> None:
        self.faults = faults
        self.stats = stats
        self.enforce_baud = enforce_baud
        self.pace = pace

    def rate_matches(self, rate: int, host_rate: int | None) -> bool:
        """`host_rate` None: the shell cannot tell the host's rate, so it is not enforced."""
        return not self.enforce_baud or host_rate is None or host_rate == rate

    def transmission(self, frame: bytes, rate: int, delay: float = 0.0) -> Transmission:
        """Draw the wire faults for one answer (in wire order, from the one seeded generator)."""
        faults = self.faults
        if faults.happens("slow"):
            delay += faults.slow_delay()
        if faults.happens("corrupt"):
            frame = faults.corrupt(frame)
        if faults.happens("noise"):
            frame = faults.noise() + frame
        chunks = faults.chunks(frame) if faults.happens("split") else [(frame, 0.0)]
        return Transmission(delay, tuple(chunks), rate)

    def on_line(self, transmission: Transmission, host_rate: int | None) -> list[Chunk]:
        """The chunks as the host receives them, given its rate when they are sent."""
        rate = transmission.rate
        chunks = list(transmission.chunks)
        if not self.rate_matches(rate, host_rate):
            ratio = (host_rate or rate) / rate
            chunks = [(self.faults.garble(chunk, ratio), pause) for chunk, pause in chunks]
        if self.pace:
            chunks = [(chunk, pause + len(chunk) * 10 / rate) for chunk, pause in chunks]
        return chunks
