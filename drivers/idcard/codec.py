"""GA 467 SAM frame codec: sans-IO, bytes in, frames out. Imports neither serial nor asyncio.

Wire layout (big-endian lengths, XOR over everything between preamble and checksum)::

    request  (host -> SAM)   AA AA AA 96 69 | Len:2 | CMD:1 | Para:1 | Data:n | CHK:1
                             Len = 1 + 1 + n + 1 (3 for every plain command)
    response (SAM -> host)   AA AA AA 96 69 | Len:2 | SW1:1 | SW2:1 | SW3:1 | Data:m | CHK:1
                             Len = 3 + m + 1; total = 7 + Len; shortest 11 bytes, longest 2321

    CHK = XOR(bytes[5 : total-1])   (length bytes included, preamble excluded)

Recovery cases the decoder handles:

* garbage before a preamble: discarded byte by byte while hunting (counted in `stats.discarded`);
* a preamble whose first byte was lost or displaced (``AA 00 AA AA 96 69`` seen in the field): the
  last four preamble bytes ``AA AA 96 69`` are enough to synchronise; the checksum still guards;
* a length outside [`min_len`, `MAX_LEN`]: not a frame (counted once in `stats.bad_length`);
  the hunt restarts one byte into the sync;
* a checksum mismatch: the whole frame is dropped (`stats.bad_checksum`) and the hunt restarts
  *after* it, never inside it: preamble bytes may legally occur inside photo or fingerprint data;
* any chunking, down to one byte per `feed()`: state survives between calls.

The buffer never holds more than one maximal frame plus the bytes of the current `feed()` call.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import xor
from typing import Generic, TypeVar

from drivers.idcard.errors import ChecksumError, FrameError

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
_SYNC = PREAMBLE[1:]  # enough to synchronise when the first preamble byte was mangled
HEADER_SIZE = len(PREAMBLE) + 2
MAX_LEN = 0x0A00  # the longest legal response is Len 0x090A; anything beyond is noise
MAX_FRAME = HEADER_SIZE + MAX_LEN
MIN_REQUEST_LEN = 3
MIN_RESPONSE_LEN = 4


def xor_checksum(data: bytes | bytearray | memoryview) -> int:
    """XOR of every byte. Folds 8-byte words first: a photo frame is 1,295 bytes."""
    view = memoryview(data).cast("B")
    words = len(view) // 8
    folded = 0
    if words:
        folded = reduce(xor, view[: words * 8].cast("Q"), 0)
        folded = reduce(xor, folded.to_bytes(8, "little"), 0)
    return reduce(xor, view[words * 8 :], folded)


class Status(enum.IntEnum):
    """SW3, the SAM's operation status: the only response field to branch on."""

    SUCCESS = 0x90
    CARD_FOUND = 0x9F
    NO_CONTENT = 0x91
    HOST_CHECKSUM_ERROR = 0x10
    HOST_LENGTH_ERROR = 0x11
    HOST_COMMAND_ERROR = 0x21
    NOT_PERMITTED = 0x23
    UNIDENTIFIED_ERROR = 0x24
    CARD_AUTH_SAM_FAILED = 0x31
    SAM_AUTH_CARD_FAILED = 0x32
    VERIFICATION_ERROR = 0x33
    UNKNOWN_CARD_TYPE = 0x40
    READ_FAILED = 0x41
    CHALLENGE_FAILED = 0x47
    SAM_SELF_TEST_FAILED = 0x60
    SAM_NOT_AUTHORISED = 0x66
    FIND_FAILED = 0x80
    SELECT_FAILED = 0x81
    COMMUNICATION_FAULT = 0xFF

    @classmethod
    def _missing_(cls, value: object) -> Status | None:
        # A reader may send a code no public table lists: keep its value instead of failing.
        if not isinstance(value, int) or not 0 <= value <= 0xFF:
            return None
        pseudo = int.__new__(cls, value)
        pseudo._name_ = f"UNDOCUMENTED_{value:02X}"
        pseudo._value_ = value
        return pseudo

    @property
    def meaning(self) -> str:
        return _MEANINGS.get(self.value, ("未定义的状态", "undocumented status"))[1]

    @property
    def meaning_zh(self) -> str:
        return _MEANINGS.get(self.value, ("未定义的状态", "undocumented status"))[0]

    @property
    def is_success(self) -> bool:
        return self in (Status.SUCCESS, Status.CARD_FOUND)

    @property
    def is_fatal(self) -> bool:
        """The SAM cannot work at all; retrying cannot help."""
        return self in (Status.SAM_SELF_TEST_FAILED, Status.SAM_NOT_AUTHORISED)

    @property
    def is_card_transient(self) -> bool:
        """A card-side failure that a restart at find may cure (card moved, RF noise)."""
        return self in _CARD_TRANSIENT

    def __str__(self) -> str:
        return f"SW3 0x{self.value:02X} ({self.meaning})"


_CARD_TRANSIENT = frozenset(
    {
        Status.SELECT_FAILED,
        Status.READ_FAILED,
        Status.CARD_AUTH_SAM_FAILED,
        Status.SAM_AUTH_CARD_FAILED,
        Status.VERIFICATION_ERROR,
        Status.CHALLENGE_FAILED,
        Status.UNKNOWN_CARD_TYPE,
    }
)

_MEANINGS: dict[int, tuple[str, str]] = {
    0x90: ("操作成功", "success"),
    0x9F: ("寻找证/卡成功", "card found"),
    0x91: ("证/卡中此项无内容", "item absent on card"),
    0x10: ("接收业务终端数据的校验和错", "host frame checksum wrong"),
    0x11: ("接收业务终端数据的长度错", "host frame length wrong"),
    0x21: ("接收业务终端的命令错误", "unknown command or bad parameter"),
    0x23: ("越权操作", "operation not permitted"),
    0x24: ("无法识别的错误", "unidentified error"),
    0x31: ("证/卡认证SAM失败", "card failed to authenticate the SAM"),
    0x32: ("SAM认证证/卡失败", "SAM failed to authenticate the card"),
    0x33: ("信息验证错误", "data verification error"),
    0x40: ("无法识别的卡类型", "unrecognised card type"),
    0x41: ("读证/卡操作失败", "read failed"),
    0x47: ("取随机数失败", "get-challenge failed"),
    0x60: ("SAM自检失败,不能接收命令", "SAM self-test failed"),
    0x66: ("SAM没经过授权,无法使用", "SAM not authorised"),
    0x80: ("寻找证/卡失败", "no card found"),
    0x81: ("选取证/卡失败", "select failed"),
    0xFF: ("通信故障", "communication fault"),
}


@dataclass(frozen=True, slots=True)
class Request:
    """One host -> SAM frame."""

    cmd: int
    para: int
    data: bytes = b""

    def to_bytes(self) -> bytes:
        body = bytes([self.cmd, self.para]) + self.data
        length = len(body) + 1
        head = length.to_bytes(2, "big") + body
        return PREAMBLE + head + bytes([xor_checksum(head)])

    @classmethod
    def from_bytes(cls, frame: bytes) -> Request:
        body = _unwrap(frame, MIN_REQUEST_LEN)
        return cls(cmd=body[0], para=body[1], data=bytes(body[2:]))


@dataclass(frozen=True, slots=True)
class Response:
    """One SAM -> host frame."""

    status: Status
    data: bytes = b""
    sw1: int = 0
    sw2: int = 0

    def to_bytes(self) -> bytes:
        length = 3 + len(self.data) + 1
        head = length.to_bytes(2, "big") + bytes([self.sw1, self.sw2, self.status]) + self.data
        return PREAMBLE + head + bytes([xor_checksum(head)])

    @classmethod
    def from_bytes(cls, frame: bytes) -> Response:
        body = _unwrap(frame, MIN_RESPONSE_LEN)
        return cls(status=Status(body[2]), data=bytes(body[3:]), sw1=body[0], sw2=body[1])


def _unwrap(frame: bytes, min_len: int) -> bytes:
    """Validate one whole frame and return what lies between the length and the checksum."""
    if not frame.startswith(PREAMBLE):
        raise FrameError(f"preamble: expected {PREAMBLE.hex(' ')}, got {frame[:5].hex(' ')}")
    if len(frame) < HEADER_SIZE + min_len:
        raise FrameError(f"frame size: expected at least {HEADER_SIZE + min_len}, got {len(frame)}")
    length = int.from_bytes(frame[5:7], "big")
    if not min_len <= length <= MAX_LEN:
        raise FrameError(f"Len: expected {min_len}..{MAX_LEN}, got {length}")
    if len(frame) != HEADER_SIZE + length:
        raise FrameError(f"frame size: expected {HEADER_SIZE + length}, got {len(frame)}")
    expected = xor_checksum(frame[5:-1])
    if frame[-1] != expected:
        raise ChecksumError(f"checksum: expected 0x{expected:02X}, got 0x{frame[-1]:02X}")
    return frame[7:-1]


@dataclass(frozen=True, slots=True)
class Command:
    """One row of the command table: what to send and what a good answer looks like."""

    name: str
    cmd: int
    para: int
    success: frozenset[Status]
    response_data: str  # human description of the data after SW3
    # Acceptable data sizes of a successful answer; None means variable (checked by the decoder).
    data_sizes: frozenset[int] | None = None
    takes_data: bool = False

    def request(self, data: bytes = b"") -> Request:
        if bool(data) != self.takes_data:
            raise ValueError(f"{self.name}: data {'required' if self.takes_data else 'not taken'}")
        return Request(self.cmd, self.para, data)

    def encode(self, data: bytes = b"") -> bytes:
        return self.request(data).to_bytes()


_OK = frozenset({Status.SUCCESS})
_OK_OR_ABSENT = frozenset({Status.SUCCESS, Status.NO_CONTENT})

RESET_SAM = Command("reset_sam", 0x10, 0xFF, _OK, "none", frozenset({0}))
SAM_STATUS = Command("sam_status", 0x11, 0xFF, _OK, "none", frozenset({0}))
READ_SAM_ID = Command("read_sam_id", 0x12, 0xFF, _OK, "16-byte SAM id", frozenset({16}))
FIND_CARD = Command(
    "find_card", 0x20, 0x01, frozenset({Status.CARD_FOUND}), "4 opaque bytes", frozenset({4})
)
SELECT_CARD = Command("select_card", 0x20, 0x02, _OK, "8 opaque bytes (SN)", frozenset({8}))
READ_BASE = Command("read_base", 0x30, 0x01, _OK, "text len, photo len, text, photo")
READ_APPENDED_ADDRESS = Command(
    "read_appended_address", 0x30, 0x03, _OK_OR_ABSENT, "1-4 x 70 bytes UCS-2"
)
READ_MANAGEMENT_NUMBER = Command("read_management_number", 0x30, 0x05, _OK, "28 bytes")
READ_BASE_FINGERPRINT = Command(
    "read_base_fingerprint", 0x30, 0x10, _OK, "text, photo, fingerprint lengths then blocks"
)
SET_MAX_RF_BYTES = Command(
    "set_max_rf_bytes", 0x61, 0xFF, _OK, "none", frozenset({0}), takes_data=True
)

# Baud index for command 0x60: the acknowledgement arrives at the *old* rate.
BAUD_INDEX = {115200: 0x00, 57600: 0x01, 38400: 0x02, 19200: 0x03, 9600: 0x04}
SUPPORTED_BAUDS = tuple(BAUD_INDEX)  # probe order: 115200 first
SET_BAUD = {
    baud: Command(f"set_baud_{baud}", 0x60, index, _OK, "none", frozenset({0}))
    for baud, index in BAUD_INDEX.items()
}

COMMANDS: tuple[Command, ...] = (
    RESET_SAM,
    SAM_STATUS,
    READ_SAM_ID,
    FIND_CARD,
    SELECT_CARD,
    READ_BASE,
    READ_APPENDED_ADDRESS,
    READ_MANAGEMENT_NUMBER,
    READ_BASE_FINGERPRINT,
    *SET_BAUD.values(),
    SET_MAX_RF_BYTES,
)
COMMANDS_BY_CODE: dict[tuple[int, int], Command] = {(c.cmd, c.para): c for c in COMMANDS}


def command_for(request: Request) -> Command | None:
    """The table row a request belongs to, or None for an unknown command."""
    return COMMANDS_BY_CODE.get((request.cmd, request.para))


@dataclass(slots=True)
class DecoderStats:
    frames: int = 0
    discarded: int = 0  # garbage bytes skipped while hunting
    bad_checksum: int = 0
    bad_length: int = 0
    repaired_preamble: int = 0


F = TypeVar("F")


class _FrameDecoder(Generic[F]):
    """Incremental frame splitter shared by the response and request parsers."""

    def __init__(self, min_len: int, build: Callable[[bytes], F]) -> None:
        self._min_len = min_len
        self._build = build
        self._buffer = bytearray()
        self.stats = DecoderStats()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def reset(self) -> None:
        """Forget a partial frame (call before each new request: stale bytes are noise)."""
        self.stats.discarded += len(self._buffer)
        self._buffer.clear()

    def feed(self, data: bytes) -> list[F]:
        self._buffer += data
        frames: list[F] = []
        while True:
            frame = self._next_frame()
            if frame is None:
                return frames
            frames.append(frame)

    def _next_frame(self) -> F | None:
        buf = self._buffer
        while True:
            start = buf.find(_SYNC)
            if start < 0:
                # Keep a tail that could begin a preamble; everything before it is noise.
                keep = len(PREAMBLE) - 1
                drop = max(len(buf) - keep, 0)
                self._discard(drop)
                return None
            preamble_ok = start >= 1 and buf[start - 1] == PREAMBLE[0]
            frame_start = start - 1 if preamble_ok else start
            self._discard(frame_start)
            offset = 0 if preamble_ok else -1  # a repaired frame lacks its first byte
            header_end = HEADER_SIZE + offset
            if len(buf) < header_end:
                return None
            length = int.from_bytes(buf[header_end - 2 : header_end], "big")
            if not self._min_len <= length <= MAX_LEN:
                self.stats.bad_length += 1
                # Step past the sync's first byte: stepping one byte only would re-read the
                # same Len as a "repaired" preamble and count (and reject) it twice.
                self._discard(start - frame_start + 1)
                continue
            total = header_end + length
            if len(buf) < total:
                return None
            raw = bytes(buf[:total])
            del buf[:total]
            if xor_checksum(raw[header_end - 2 : -1]) != raw[-1]:
                self.stats.bad_checksum += 1
                continue
            if not preamble_ok:
                self.stats.repaired_preamble += 1
                raw = PREAMBLE[:1] + raw
            self.stats.frames += 1
            return self._build(raw)

    def _discard(self, count: int) -> None:
        if count > 0:
            del self._buffer[:count]
            self.stats.discarded += count


class ResponseDecoder(_FrameDecoder[Response]):
    """Host side: `feed(bytes) -> list[Response]`, any chunking, garbage skipped."""

    def __init__(self) -> None:
        super().__init__(MIN_RESPONSE_LEN, Response.from_bytes)


class RequestDecoder(_FrameDecoder[Request]):
    """Device side (the simulator): `feed(bytes) -> list[Request]`."""

    def __init__(self) -> None:
        super().__init__(MIN_REQUEST_LEN, Request.from_bytes)
