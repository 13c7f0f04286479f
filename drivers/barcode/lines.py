"""Scanner line framing, sans-IO: bytes in, one `bytes` per scan out; and the reverse.

Wire layouts a serial/USB-CDC scanner or document reader may use (configured per device)::

    cr      PAYLOAD 0D                  lf      PAYLOAD 0A          crlf   PAYLOAD 0D 0A
    tab     PAYLOAD 09                  stx-etx 02 PAYLOAD 03       (payload may hold CR/LF:
    auto    any of the above: 02..03 when a frame starts with STX,  a whole MRZ in one frame)
            else CR, LF or TAB ends the scan

Recovery cases:
* empty lines (the LF of a CRLF under `cr`, doubled terminators) are dropped, not scans;
* bytes outside an STX..ETX frame are counted as garbage and dropped;
* an STX inside an open frame restarts the frame (the reader began again);
* a line longer than `max_len` is dropped whole and the decoder hunts for the next terminator,
  so a stuck scanner cannot grow memory and a half line is never reported as a scan.

Document readers send an MRZ as 2-3 lines, one terminator each. `MrzAssembler` groups such
MRZ-shaped lines into one scan (by line length and a quiet gap, time passed in by the caller).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STX, ETX = 0x02, 0x03
FRAMINGS = ("auto", "cr", "lf", "crlf", "tab", "stx-etx")
_TERMINATORS = {
    "auto": b"\r\n\t",
    "cr": b"\r",
    "lf": b"\n",
    "crlf": b"\r\n",  # either byte ends a line; the empty line between them is dropped
    "tab": b"\t",
    "stx-etx": b"",
}
_MRZ_LINE = re.compile(rb"^[A-Z0-9<]{30}$|^[A-Z0-9<]{36}$|^[A-Z0-9<]{44}$")
_MRZ_COUNT = {30: 3, 36: 2, 44: 2}


@dataclass(slots=True)
class LineStats:
    scans: int = 0
    overflows: int = 0
    garbage_bytes: int = 0


def encode(payload: bytes, framing: str) -> bytes:
    """Frame one scan as a device configured with `framing` would send it."""
    if framing not in FRAMINGS:
        raise ValueError(f"framing: expected one of {FRAMINGS}, got {framing!r}")
    if framing == "stx-etx":
        return bytes([STX]) + payload + bytes([ETX])
    ending = {"auto": b"\r\n", "cr": b"\r", "lf": b"\n", "crlf": b"\r\n", "tab": b"\t"}[framing]
    # A multi-line payload (an MRZ) goes out as one line per MRZ line, as readers do.
    lines = payload.replace(b"\r\n", b"\n").split(b"\n")
    return b"".join(line + ending for line in lines if line)


@dataclass(slots=True)
class LineDecoder:
    """Bytes in, complete scans out. One per port; `reset()` after a reconnect."""

    framing: str = "auto"
    max_len: int = 4096
    stats: LineStats = field(default_factory=LineStats)
    _buffer: bytearray = field(default_factory=bytearray)
    _in_frame: bool = False  # inside STX..ETX
    _discarding: bool = False  # after an overflow, until the next terminator

    def __post_init__(self) -> None:
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing: expected one of {FRAMINGS}, got {self.framing!r}")

    def reset(self) -> None:
        self._buffer.clear()
        self._in_frame = self._discarding = False

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        terminators = _TERMINATORS[self.framing]
        framed = self.framing in ("auto", "stx-etx")
        for byte in data:
            if framed and byte == STX:
                self._buffer.clear()  # a new frame: whatever came before was not a scan
                self._in_frame, self._discarding = True, False
            elif self._in_frame:
                if byte == ETX:
                    self._in_frame = False
                    self._emit(out)
                else:
                    self._append(byte)
            elif self.framing == "stx-etx":
                self.stats.garbage_bytes += 1
            elif byte in terminators:
                if not self._discarding:
                    self._emit(out)
                self._discarding = False
                self._buffer.clear()
            else:
                self._append(byte)
        return out

    def _append(self, byte: int) -> None:
        if self._discarding:
            return
        self._buffer.append(byte)
        if len(self._buffer) > self.max_len:
            self.stats.overflows += 1
            self._buffer.clear()
            self._discarding = True
            self._in_frame = False

    def _emit(self, out: list[bytes]) -> None:
        if self._buffer and not self._discarding:
            out.append(bytes(self._buffer))
            self.stats.scans += 1
        self._buffer.clear()


@dataclass(slots=True)
class MrzAssembler:
    """Join the 2-3 MRZ lines a document reader sends line by line into one scan.

    `push(line, now)` returns the scans that are complete; `flush(now)` releases a partial
    MRZ once `gap` seconds passed without its next line (it is then a broken MRZ the parser
    will report, not something to hold forever). `now` is monotonic seconds.
    """

    gap: float = 0.3
    _held: list[bytes] = field(default_factory=list)
    _since: float = 0.0

    def push(self, line: bytes, now: float) -> list[bytes]:
        out = self.flush(now)
        stripped = line.strip()
        if not _MRZ_LINE.match(stripped):
            out.extend(self._release())
            out.append(line)
            return out
        if self._held and len(self._held[0]) != len(stripped):
            out.extend(self._release())
        self._held.append(stripped)
        self._since = now
        if len(self._held) == _MRZ_COUNT[len(stripped)]:
            out.extend(self._release())
        return out

    def flush(self, now: float) -> list[bytes]:
        if self._held and now - self._since >= self.gap:
            return self._release()
        return []

    @property
    def pending(self) -> bool:
        return bool(self._held)

    def _release(self) -> list[bytes]:
        if not self._held:
            return []
        joined, self._held = b"\n".join(self._held), []
        return [joined]
