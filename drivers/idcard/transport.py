"""The reader's serial link: pyserial, ports as URLs, baud probing, timeouts that scale with baud.

    CardReader ──Transport──> SerialTransport ──Port──> pyserial (a tty, loop://, spy://, ...)
                                                  └──> SimLink's port (drivers/sim/link.py)

The reader loop depends on the `Transport` protocol only. `SerialTransport` is its one
implementation: it speaks to a `Port`, the part of pyserial's API it uses, which an `opener`
makes from a URL (`serial.serial_for_url` unless told otherwise) and it measures every timeout
with a `clock` (`time.monotonic` unless told otherwise). Tests hand it the in-memory line to a
simulated reader and that line's virtual clock, so the probe, the timeouts and the recovery
from noise run as shipped, without a pseudo-terminal and without waiting real seconds.

One `SerialTransport` owns one port. `transact()` sends a command and returns the first valid
response frame, whatever chunking or noise the link adds; it never interprets SW3 (the reader
loop does). Every OS or pyserial failure is mapped to `TransportError` subclasses at this
boundary, and the port is closed so that `open()` can try again when the device comes back.

Ports are URLs handed to `serial.serial_for_url`: a device path (`/dev/ttyUSB0`, a
`/dev/serial/by-id/...` link), `loop://`, `socket://host:port`, or `spy://PORT` for field traces.
"""

from __future__ import annotations

import contextlib
import logging
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import serial

from drivers.idcard import codec
from drivers.idcard.codec import Command, Response, ResponseDecoder
from drivers.idcard.errors import (
    ChecksumError,
    NoReaderError,
    PortUnavailableError,
    ReaderFaultError,
    ReaderTimeoutError,
)

log = logging.getLogger(__name__)

# Largest answer each command can produce, for the wire-time part of its timeout.
_MAX_RESPONSE_BYTES = {
    "read_base": 1295,
    "read_base_fingerprint": 2321,
    "read_appended_address": 7 + 4 + 280,
    "read_management_number": 39,
    "read_sam_id": 27,
    "select_card": 19,
    "find_card": 15,
}
_READS = frozenset({"read_base", "read_base_fingerprint", "read_appended_address"})


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for an answer, before adding the wire time at the current baud.

    Defaults follow the reference (§6.2): short commands 1 s, reads 2 s + wire time.
    """

    short: float = 1.0
    read: float = 2.0
    probe: float = 1.0  # per baud while probing

    def for_command(self, command: Command, baud: int) -> float:
        size = _MAX_RESPONSE_BYTES.get(command.name, 11) + 11  # plus the request itself
        wire = size * 10 / baud  # 8N1: ten bit times per byte
        base = self.read if command.name in _READS else self.short
        return base + wire


def wire_seconds(byte_count: int, baud: int) -> float:
    """Time the bytes take on an 8N1 line."""
    return byte_count * 10 / baud


Clock = Callable[[], float]  # monotonic seconds


class Port(Protocol):
    """What the transport uses of a pyserial port; pyserial's classes have all of it."""

    baudrate: int
    timeout: float | None

    @property
    def is_open(self) -> bool: ...

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


PortOpener = Callable[..., Port]  # (url, **pyserial settings) -> an open port


class Transport(Protocol):
    """What the reader loop needs from a link to a reader (`SerialTransport` provides it)."""

    @property
    def url(self) -> str: ...

    @property
    def is_open(self) -> bool: ...

    def open(self) -> int:
        """Open the link and find the reader's rate; returns that baud."""
        ...

    def close(self) -> None: ...

    def transact(
        self, command: Command, data: bytes = b"", timeout: float | None = None
    ) -> Response:
        """Send one command and return its answer (any SW3); raises TransportError subclasses."""
        ...


class SerialTransport:
    """A reader on one serial port. Not thread-safe: one reader loop owns it."""

    def __init__(
        self,
        url: str,
        *,
        baud: int | None = None,
        timeouts: Timeouts | None = None,
        exclusive: bool = True,
        opener: PortOpener = serial.serial_for_url,
        clock: Clock = time.monotonic,
    ) -> None:
        self.url = url
        self.preferred_baud = baud
        self.timeouts = timeouts or Timeouts()
        self.exclusive = exclusive
        self.baud: int | None = None
        self._opener = opener
        self._clock = clock
        self._port: Port | None = None
        self._decoder = ResponseDecoder()

    # ---- lifecycle --------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._port is not None and self._port.is_open

    def open(self) -> int:
        """Open the port and find the baud the SAM answers at; returns that baud."""
        self.close()
        kwargs: dict[str, Any] = {"baudrate": self._probe_order()[0], "timeout": 0}
        if self.exclusive and "://" not in self.url:
            kwargs["exclusive"] = True  # a second process on the reader would corrupt frames
        try:
            self._port = self._opener(self.url, **kwargs)
        except (serial.SerialException, OSError, ValueError) as err:
            raise PortUnavailableError(f"cannot open {self.url}: {err}") from err
        try:
            self.baud = self._probe()
        except BaseException:
            self.close()
            raise
        return self.baud

    def close(self) -> None:
        port, self._port = self._port, None
        self.baud = None
        if port is not None:
            # The device may already be gone; there is nothing left to release then.
            with contextlib.suppress(serial.SerialException, OSError, termios.error):
                port.close()

    def __enter__(self) -> SerialTransport:
        if not self.is_open:
            self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _probe_order(self) -> list[int]:
        order = list(codec.SUPPORTED_BAUDS)
        if self.preferred_baud is not None:
            if self.preferred_baud not in order:
                raise ValueError(f"baud: expected one of {order}, got {self.preferred_baud}")
            order.remove(self.preferred_baud)
            order.insert(0, self.preferred_baud)
        return order

    def _probe(self) -> int:
        """Ask SAM status at each rate until a valid answer arrives (§6.1)."""
        for attempt, baud in enumerate(self._probe_order()):
            self._set_baud(baud)
            # First bytes after power-up or enumeration can be lost: retry the first rate.
            tries = 3 if attempt == 0 else 1
            for _ in range(tries):
                try:
                    response = self._exchange(codec.SAM_STATUS, b"", self.timeouts.probe)
                except ReaderTimeoutError:
                    continue
                if response.status.is_fatal:
                    raise ReaderFaultError(f"{self.url}: {response.status}")
                log.info("reader on %s answers at %d baud", self.url, baud)
                return baud
        raise NoReaderError(
            f"no ID card reader answers on {self.url} at any of {list(codec.SUPPORTED_BAUDS)} baud"
        )

    def _set_baud(self, baud: int) -> None:
        assert self._port is not None
        try:
            self._port.baudrate = baud
        except (serial.SerialException, OSError, ValueError, termios.error) as err:
            self.close()
            raise PortUnavailableError(f"{self.url}: cannot set {baud} baud: {err}") from err
        self.baud = baud

    # ---- commands ---------------------------------------------------------------------------

    def transact(
        self, command: Command, data: bytes = b"", timeout: float | None = None
    ) -> Response:
        """Send one command and return its answer (any SW3). Raises TransportError subclasses."""
        if not self.is_open or self.baud is None:
            raise PortUnavailableError(f"{self.url} is not open")
        limit = timeout if timeout is not None else self.timeouts.for_command(command, self.baud)
        return self._exchange(command, data, limit)

    def change_baud(self, baud: int) -> Response:
        """Switch the SAM's rate; the acknowledgement comes at the old rate, then we follow."""
        response = self.transact(codec.SET_BAUD[baud])
        if response.status.is_success:
            self._set_baud(baud)
        return response

    def _exchange(self, command: Command, data: bytes, limit: float) -> Response:
        port = self._port
        assert port is not None
        deadline = self._clock() + limit
        try:
            # Stale bytes (a late answer to a timed-out command) are noise now.
            port.reset_input_buffer()
            self._decoder.reset()
            port.write(command.encode(data))
            while True:
                remaining = deadline - self._clock()
                if remaining <= 0:
                    raise ReaderTimeoutError(
                        f"{command.name}: no answer from {self.url} within {limit:.2f} s"
                    )
                port.timeout = remaining
                chunk = port.read(max(port.in_waiting, 1))
                if not chunk:
                    continue
                corrupt_before = self._decoder.stats.bad_checksum
                frames = self._decoder.feed(chunk)
                if frames:
                    return frames[0]
                if self._decoder.stats.bad_checksum != corrupt_before:
                    # The SAM answers once per request: a corrupted answer will not be repeated,
                    # so fail now instead of waiting out the timeout.
                    raise ChecksumError(f"{command.name}: answer from {self.url} was corrupted")
        except (serial.SerialException, OSError, termios.error) as err:
            # termios.error is what flushing a vanished tty raises; it is not an OSError.
            self.close()
            raise PortUnavailableError(f"{self.url}: {err}") from err

    @property
    def decoder_stats(self) -> codec.DecoderStats:
        return self._decoder.stats
