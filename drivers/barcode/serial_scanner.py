"""A serial / USB-CDC barcode scanner or document reader: pyserial by URL, hot-plug recovery.

    port (serial_for_url) ──bytes──> LineDecoder ──lines──> MrzAssembler ──> Scan ──> on_scan

The scanner only talks; we never write to it. The loop survives the device going away: every
OS/pyserial failure closes the port and the loop reopens it with a capped backoff (monotonic
time), logging the first failure and the recovery, not every retry. A by-id symlink (udev, or
the simulator's) keeps the URL stable across re-enumeration.
"""

from __future__ import annotations

import contextlib
import logging
import termios
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

from drivers.barcode.errors import PortUnavailableError
from drivers.barcode.lines import LineDecoder, MrzAssembler

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Scan:
    """One scan as received: raw bytes, where from, and when (monotonic seconds)."""

    raw: bytes
    source: str
    received: float
    symbology: str | None = None  # image decoders know it; serial scanners usually do not
    eci_charset: str | None = None


class SerialScanner:
    """Owns one port. `run()` blocks until `stop` is set; call it from one thread."""

    def __init__(
        self,
        url: str,
        *,
        framing: str = "auto",
        baud: int = 9600,
        max_len: int = 4096,
        mrz_gap: float = 0.3,
        retry_max: float = 2.0,
    ) -> None:
        self.url = url
        self.baud = baud
        self.retry_max = retry_max
        self.decoder = LineDecoder(framing, max_len)
        self.assembler = MrzAssembler(gap=mrz_gap)
        self._port: serial.SerialBase | None = None
        self.connected = threading.Event()

    def open(self) -> None:
        self.close()
        kwargs: dict[str, object] = {"baudrate": self.baud, "timeout": 0.05}
        if "://" not in self.url:
            kwargs["exclusive"] = True  # two readers on one scanner would each get half lines
        try:
            self._port = serial.serial_for_url(self.url, **kwargs)
        except (serial.SerialException, OSError, ValueError) as err:
            raise PortUnavailableError(f"cannot open {self.url}: {err}") from err
        self.decoder.reset()
        self.connected.set()

    def close(self) -> None:
        port, self._port = self._port, None
        self.connected.clear()
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError, termios.error):
                port.close()

    def read_once(self, now: float | None = None) -> list[Scan]:
        """Read what is waiting (up to the port timeout) and return completed scans."""
        port = self._port
        if port is None:
            raise PortUnavailableError(f"{self.url} is not open")
        try:
            chunk = port.read(max(port.in_waiting, 1))
        except (serial.SerialException, OSError, termios.error) as err:
            self.close()
            raise PortUnavailableError(f"{self.url}: {err}") from err
        now = time.monotonic() if now is None else now
        lines: list[bytes] = []
        for line in self.decoder.feed(chunk):
            lines.extend(self.assembler.push(line, now))
        lines.extend(self.assembler.flush(now))
        return [Scan(line, f"serial:{self.url}", now) for line in lines]

    def run(self, on_scan: Callable[[Scan], None], stop: threading.Event) -> None:
        """Deliver scans until `stop`; reopen the port whenever it goes away."""
        delay = 0.05
        failing_since: float | None = None
        while not stop.is_set():
            if self._port is None:
                try:
                    self.open()
                except PortUnavailableError as err:
                    if failing_since is None:
                        failing_since = time.monotonic()
                        log.warning("scanner %s unavailable: %s", self.url, err)
                    stop.wait(delay)
                    delay = min(delay * 2, self.retry_max)
                    continue
                if failing_since is not None:
                    log.info("scanner %s back after %.1f s", self.url,
                             time.monotonic() - failing_since)  # fmt: skip
                failing_since, delay = None, 0.05
            try:
                scans = self.read_once()
            except PortUnavailableError as err:
                failing_since = time.monotonic()
                log.warning("scanner %s lost: %s", self.url, err)
                continue
            for scan in scans:
                on_scan(scan)
        self.close()

    def __enter__(self) -> SerialScanner:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class ScanProbe:
    """What `listen_for_scan` found: the port a scan arrived on (or None) and, for every
    port, why it was not taken (cannot open, silent, bytes that were no scan)."""

    port: str | None
    why: dict[str, str]


def listen_for_scan(ports: list[str], seconds: float, *, baud: int = 9600,
                    framing: str = "auto") -> ScanProbe:
    """Find a serial scanner the only way one can be found: it speaks when it scans. Every
    port is opened (exclusively, read only: nothing is ever written to a port that may be some
    other device) and read until one delivers a complete scan or `seconds` pass (monotonic).
    A port that sends bytes that never make a line (another device's chatter) is not taken."""
    opened: dict[str, tuple[serial.SerialBase, LineDecoder]] = {}
    why: dict[str, str] = {}
    heard: set[str] = set()  # ports that sent bytes
    try:
        for url in ports:
            kwargs: dict[str, object] = {"baudrate": baud, "timeout": 0}
            if "://" not in url:
                kwargs["exclusive"] = True
            try:
                opened[url] = (serial.serial_for_url(url, **kwargs), LineDecoder(framing))
            except (serial.SerialException, OSError, ValueError) as err:
                why[url] = f"cannot open: {err}"
        deadline = time.monotonic() + seconds
        while opened and time.monotonic() < deadline:
            for url, (port, decoder) in list(opened.items()):
                try:
                    data = port.read(4096)
                except (serial.SerialException, OSError) as err:
                    why[url] = f"gone while listening: {err}"
                    del opened[url]
                    continue
                if data:
                    heard.add(url)
                    if decoder.feed(data):
                        return ScanProbe(url, why)
            time.sleep(0.02)
        for url in opened:
            why[url] = ("sent bytes that are no scan" if url in heard
                        else f"no scan within {seconds:g} s")
        return ScanProbe(None, why)
    finally:
        for port, _decoder in opened.values():
            with contextlib.suppress(serial.SerialException, OSError, termios.error):
                port.close()
