"""An in-memory serial line to a simulated reader, in virtual time: no pty, no thread, no sleep.

    SerialTransport(link.url, opener=link.open, clock=link.clock)
        │ write / read / baudrate / reset_input_buffer   (a `Port`, as pyserial's are)
    SimLinkPort ──> SimLink ──receive(bytes, host rate)──> SimDevice (device.py, sans-IO)
                       └── the line: answers waiting out their delay, bytes with arrival times

The same `SimDevice` sits behind the pty in `SimulatedReader`; this shell replaces the kernel
and the wall clock. Time passes only when the host waits: a `read()` with a timeout moves the
`VirtualClock` to the next byte's arrival or to the end of the timeout, whichever is first, so
a dropped answer costs the host its full timeout in virtual seconds and no real ones.

Faithful to the pty shell where the reader loop can tell:

* an answer is garbled when the host's rate differs from the SAM's at the moment it goes on the
  line (after its delay), and a request sent at the wrong rate is lost;
* the device answers one request at a time: a request arriving while an earlier answer is still
  on its way (slow, split, paced) is handled after it, and a late answer reaches the host during
  its next exchange unless flushed (`reset_input_buffer()`) first;
* unplugging (the `unplug` fault, or `unplug()`) makes every port opened before it fail with
  `serial.SerialException` and opening fail until the device is back; re-plugging re-powers the
  SAM (default rate, no card session); opening a port flushes what was waiting, as pyserial does.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

import serial

from drivers.sim.device import SimDevice, Unplug
from drivers.sim.wire import Transmission

URL = "sim://idcard"


class VirtualClock:
    """Monotonic seconds that move only when told to; call it like `time.monotonic`."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start

    def __call__(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError(f"advance: expected seconds >= 0, got {seconds}")
        self._now += seconds

    def advance_to(self, when: float) -> None:
        self._now = max(self._now, when)


class SimLink:
    """The line between one host and one `SimDevice`; opens `SimLinkPort`s for the transport."""

    def __init__(self, device: SimDevice, clock: VirtualClock | None = None) -> None:
        self.device = device
        self.clock = clock or VirtualClock()
        self.url = URL
        self.host_rate = 9600  # what the host last configured, as a tty keeps it between opens
        self._sending: deque[tuple[float, Transmission | Unplug]] = deque()  # (start, what)
        self._arrivals: deque[tuple[float, bytes]] = deque()  # (arrival time, bytes)
        self._busy_until = -math.inf  # the device answers one request at a time
        self._away_until: float | None = None  # unplugged until then (inf: until replug())
        self._generation = 0  # bumped on unplug: ports opened before it are dead

    # ---- the device vanishing ----------------------------------------------------------------

    @property
    def plugged(self) -> bool:
        self._settle()
        return self._away_until is None

    def unplug(self, for_seconds: float | None = None) -> None:
        """Make the device vanish now; None: until `replug()`."""
        self._settle()
        self._unplug(self.clock(), math.inf if for_seconds is None else for_seconds)

    def replug(self) -> None:
        if self._away_until is not None:
            self._away_until = self.clock()
        self._settle()

    def _unplug(self, when: float, seconds: float) -> None:
        if self._away_until is None:
            self.device.unplugged()
            self._generation += 1
            self._sending.clear()
            self._arrivals.clear()
            self._busy_until = -math.inf
        self._away_until = when + seconds

    # ---- what the port calls -----------------------------------------------------------------

    def open(self, url: str, *, baudrate: int = 9600, **_settings: Any) -> SimLinkPort:
        """The transport's opener: `serial.serial_for_url`'s place for this line."""
        if url != self.url:
            raise serial.SerialException(f"could not open port {url}: not {self.url}")
        if not self.plugged:
            raise serial.SerialException(f"could not open port {url}: no such device")
        self.host_rate = baudrate
        self.flush()
        return SimLinkPort(self, self._generation)

    def alive(self, generation: int) -> bool:
        return self.plugged and generation == self._generation

    def send(self, data: bytes) -> None:
        """Bytes from the host reach the device at once; its answers go on the line later."""
        self._settle()
        start = max(self.clock(), self._busy_until)
        for output in self.device.receive(data, self.host_rate):
            if isinstance(output, Unplug):
                self._sending.append((start, output))
                break
            begins = start + output.delay
            self._sending.append((begins, output))
            start = begins + self._line_seconds(output)
        self._busy_until = start
        self._settle()

    def _line_seconds(self, transmission: Transmission) -> float:
        """How long the device is busy writing an answer: the pauses, and the wire time if paced."""
        seconds = sum(pause for _, pause in transmission.chunks)
        if self.device.wire.pace:
            seconds += transmission.size * 10 / transmission.rate
        return seconds

    def set_rate(self, rate: int) -> None:
        self._settle()  # answers already sent were sent at the old rate
        self.host_rate = rate

    def waiting(self) -> int:
        """Bytes that have arrived and not been read."""
        self._settle()
        now = self.clock()
        return sum(len(data) for at, data in self._arrivals if at <= now)

    def take(self, size: int) -> bytes:
        """Up to `size` bytes that have arrived by now."""
        self._settle()
        now, out = self.clock(), bytearray()
        while self._arrivals and self._arrivals[0][0] <= now and len(out) < size:
            at, data = self._arrivals.popleft()
            room = size - len(out)
            out += data[:room]
            if len(data) > room:
                self._arrivals.appendleft((at, data[room:]))
        return bytes(out)

    def next_event(self) -> float | None:
        """When the next byte arrives or the next answer starts, if anything is on its way."""
        times = [at for at, _ in self._arrivals]
        if self._sending:
            times.append(self._sending[0][0])
        later = [when for when in times if when > self.clock()]
        return min(later) if later else None

    def flush(self) -> None:
        """Drop the bytes that have arrived (answers still on their way keep coming)."""
        self._settle()
        now = self.clock()
        self._arrivals = deque((at, data) for at, data in self._arrivals if at > now)

    # ---- the line's state at the clock's time ------------------------------------------------

    def _settle(self) -> None:
        """Bring the line up to the clock: replug, schedule steps, answers going on the line."""
        now = self.clock()
        if self._away_until is not None and now >= self._away_until:
            self._away_until = None
            self.device.stats.plugs += 1
        self.device.advance(now)
        while self._sending and self._sending[0][0] <= now:
            when, output = self._sending.popleft()
            if isinstance(output, Unplug):
                self._unplug(when, output.seconds)
                return
            at = when
            for chunk, pause in self.device.wire.on_line(output, self.host_rate):
                self._arrivals.append((at, chunk))
                at += pause
            self._busy_until = max(self._busy_until, at)
            self.device.stats.answers += 1


class SimLinkPort:
    """One opening of the line, shaped like a pyserial port (the transport's `Port`)."""

    def __init__(self, link: SimLink, generation: int) -> None:
        self._link = link
        self._generation = generation
        self._open = True
        self.timeout: float | None = 0.0

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def baudrate(self) -> int:
        return self._link.host_rate

    @baudrate.setter
    def baudrate(self, rate: int) -> None:
        self._check()
        self._link.set_rate(rate)

    @property
    def in_waiting(self) -> int:
        self._check()
        return self._link.waiting()

    def read(self, size: int = 1) -> bytes:
        """What has arrived; else wait (in virtual time) up to `timeout` for the first bytes."""
        self._check()
        link, clock = self._link, self._link.clock
        deadline = math.inf if self.timeout is None else clock() + self.timeout
        while True:
            data = link.take(size)
            if data:
                return data
            upcoming = link.next_event()
            if upcoming is None or upcoming > deadline:
                if math.isinf(deadline):
                    raise serial.SerialException("read without a timeout on a silent line")
                clock.advance_to(deadline)
                self._check()
                return link.take(size)
            clock.advance_to(upcoming)
            self._check()  # an unplug may have been due meanwhile

    def write(self, data: bytes, /) -> int:
        self._check()
        self._link.send(bytes(data))
        return len(data)

    def reset_input_buffer(self) -> None:
        self._check()
        self._link.flush()

    def close(self) -> None:
        self._open = False

    def _check(self) -> None:
        if not self._open:
            raise serial.PortNotOpenError()
        if not self._link.alive(self._generation):
            # What pyserial says when the tty behind an open port vanishes.
            raise serial.SerialException("device reports readiness to read but returned no data")
