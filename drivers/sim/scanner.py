"""A simulated serial barcode scanner / document reader on a pseudo-terminal.

    sim = SimulatedScanner(framing="crlf").start()
    serial.serial_for_url(sim.port)          # a stable symlink to the current /dev/pts/N
    sim.send(b"BK-2026-0042"); sim.send(mrz_text.encode()); sim.unplug(); sim.replug(); sim.stop()

One background thread owns the pty (see `ptyport.py`) and executes queued actions in order,
so a test can script "scan, unplug, scan (lost), replug, scan" without races. Each payload is
framed by `lines.encode` exactly as a device configured with that framing sends it; `split`
dribbles the bytes out a few at a time and `noise` puts junk between frames (only where the
framing can recover from it: outside STX..ETX), to exercise the host's reassembly.
"""

from __future__ import annotations

import json
import queue
import random
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from drivers.barcode import mrzbuild
from drivers.barcode.lines import encode
from drivers.sim.ptyport import PtyPort

LINK_NAME = "usb-anju-sim-scanner"


def default_payloads() -> list[bytes]:
    """Synthetic scans: specimen-style passports, a URL, a booking code, Chinese text (GBK),
    and a stand-in 网证 payload (opaque bytes behind the configured marker)."""
    passport = mrzbuild.MrzFields(
        surname="ERIKSSON", given_names="ANNA MARIA", document_number="L898902C3",
        expiry_date="320415", optional="ZE184226B",
    )  # fmt: skip
    card = mrzbuild.MrzFields(
        document_type="I", document_number="D23145890734", expiry_date="310101",
        surname="SMITH", given_names="JOHN",
    )  # fmt: skip
    return [
        mrzbuild.td3(passport).encode(),
        mrzbuild.td1(card).encode(),
        b"https://booking.example.org/r/8F3K2Q",
        b"BK-2026-11-28-0042",
        "房间 302 张三".encode("gbk"),
        b"CTID" + bytes(range(0x80, 0xC0)),
    ]


def load_payloads(path: Path) -> list[bytes]:
    """JSON list: each item a string (sent as UTF-8) or {"hex": "..."} or {"gbk": "..."}."""
    items = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a JSON list")
    out = []
    for item in items:
        if isinstance(item, str):
            out.append(item.encode("utf-8"))
        elif isinstance(item, dict) and "hex" in item:
            out.append(bytes.fromhex(item["hex"]))
        elif isinstance(item, dict) and "gbk" in item:
            out.append(item["gbk"].encode("gbk"))
        else:
            raise ValueError(f"{path}: cannot use item {item!r}")
    return out


class SimulatedScanner:
    """`start()` it, open `.port`, `send()` scans, `stop()` it (or use `with`)."""

    def __init__(
        self,
        *,
        framing: str = "crlf",
        split: bool = False,
        noise: bool = False,
        seed: int | None = None,
        link_dir: str | Path | None = None,
    ) -> None:
        encode(b"", framing)  # validates the framing name now, not on the thread
        self.framing = framing
        self.split = split
        self.noise = noise
        self._random = random.Random(seed)
        self._pty = PtyPort(link_dir, LINK_NAME)
        self._actions: queue.Queue[tuple[str, bytes, threading.Event]] = queue.Queue()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0

    @property
    def port(self) -> str:
        return str(self._pty.link)

    def start(self) -> SimulatedScanner:
        self._thread = threading.Thread(target=self._run, name="anju-sim-scanner", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._pty.close()

    def __enter__(self) -> SimulatedScanner:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, err: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def send(self, payload: bytes, wait: float | None = 5.0) -> None:
        """Queue one scan; by default wait until its bytes are in the pty."""
        self._do("send", payload, wait)

    def send_all(self, payloads: Iterable[bytes], interval: float = 0.0) -> None:
        for payload in payloads:
            self.send(payload)
            if interval:
                self._stopping.wait(interval)

    def unplug(self, wait: float | None = 5.0) -> None:
        self._do("unplug", b"", wait)

    def replug(self, wait: float | None = 5.0) -> None:
        self._do("plug", b"", wait)

    def _do(self, action: str, payload: bytes, wait: float | None) -> None:
        done = threading.Event()
        self._actions.put((action, payload, done))
        if wait is not None and not done.wait(wait):
            raise TimeoutError(f"simulated scanner: {action} not done in {wait} s")

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                action, payload, done = self._actions.get(timeout=0.02)
            except queue.Empty:
                self._pty.read()  # nothing expected from the host; keep the pty drained
                continue
            if action == "send":
                self._send(payload)
            elif action == "unplug":
                self._pty.unplug()
            elif action == "plug":
                self._pty.plug()
            done.set()

    def _send(self, payload: bytes) -> None:
        data = encode(payload, self.framing)
        if self.noise and self.framing == "stx-etx":
            data = b"\x00\xff junk" + data + b"\r\n"
        deadline = time.monotonic() + 2.0
        if not self.split:
            if self._pty.write(data, deadline):
                self.sent += 1
            return
        view = memoryview(data)
        while view:
            size = self._random.randint(1, 7)
            if not self._pty.write(bytes(view[:size]), deadline):
                return
            view = view[size:]
            time.sleep(0.001)  # let the host read a partial frame
        self.sent += 1
