"""GA 467 codec: every reference vector three ways (whole, byte by byte, in junk) and nasty streams.

Reference: /work/shared/reference/idcard-protocol.md sections 1, 2, 3.1 and 7.1. Expected bytes
are written out literally from the reference, never computed by the code under test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

import pytest

from drivers.idcard.codec import (
    COMMANDS,
    FIND_CARD,
    MAX_FRAME,
    MAX_LEN,
    PREAMBLE,
    READ_APPENDED_ADDRESS,
    READ_BASE,
    READ_BASE_FINGERPRINT,
    READ_MANAGEMENT_NUMBER,
    READ_SAM_ID,
    RESET_SAM,
    SAM_STATUS,
    SELECT_CARD,
    SET_BAUD,
    SET_MAX_RF_BYTES,
    Command,
    Request,
    RequestDecoder,
    Response,
    ResponseDecoder,
    Status,
    command_for,
    xor_checksum,
)
from drivers.idcard.errors import ChecksumError, FrameError, IdCardError
from drivers.idcard.sam_answers import (
    BaseMessage,
    decode_base_message,
    encode_base_message,
    split_appended_addresses,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# ---- feeding helpers ----------------------------------------------------------------------


def feed_whole(decoder: ResponseDecoder | RequestDecoder, stream: bytes) -> list:
    return decoder.feed(stream)


def feed_bytewise(decoder: ResponseDecoder | RequestDecoder, stream: bytes) -> list:
    frames: list = []
    for i in range(len(stream)):
        frames += decoder.feed(stream[i : i + 1])
    return frames


def feed_chunks(decoder: ResponseDecoder | RequestDecoder, stream: bytes, size: int) -> list:
    frames: list = []
    for i in range(0, len(stream), size):
        frames += decoder.feed(stream[i : i + size])
    return frames


FEEDERS: dict[str, Callable[[ResponseDecoder | RequestDecoder, bytes], list]] = {
    "whole": feed_whole,
    "bytewise": feed_bytewise,
    "usb32": lambda d, s: feed_chunks(d, s, 32),  # USB-serial bridges deliver 32/64-byte chunks
    "odd7": lambda d, s: feed_chunks(d, s, 7),
}

# Junk that holds preamble fragments but never the 4-byte sync AA AA 96 69.
JUNK: dict[str, bytes] = {
    "noise": h("00 FF 13 37"),
    "lone_aa": h("AA"),
    "aa_run": h("AA AA AA AA AA AA"),
    "sync_bytes_scrambled": h("96 69 AA 69 96 AA 96"),
    "partial_preamble": h("AA AA AA 96"),
    "partial_preamble_then_noise": h("AA AA AA 96 00 AA AA 96 AA"),
    "preamble_missing_69": h("AA AA AA 96 68 00 04 00 00 90 94"),
    "tail_aa_aa": h("01 02 AA AA"),
}


def wrap_in_junk(frames: Iterable[bytes], junk: bytes) -> bytes:
    """junk, frame, junk, frame, ..., junk: before, between and after every frame."""
    return junk + b"".join(frame + junk for frame in frames)


# ---- §2 command table: requests --------------------------------------------------------------

REQUEST_VECTORS: list[tuple[str, Command, bytes, str]] = [
    ("reset", RESET_SAM, b"", "AA AA AA 96 69 00 03 10 FF EC"),
    ("status", SAM_STATUS, b"", "AA AA AA 96 69 00 03 11 FF ED"),
    ("sam_id", READ_SAM_ID, b"", "AA AA AA 96 69 00 03 12 FF EE"),
    ("find", FIND_CARD, b"", "AA AA AA 96 69 00 03 20 01 22"),
    ("select", SELECT_CARD, b"", "AA AA AA 96 69 00 03 20 02 21"),
    ("read_base", READ_BASE, b"", "AA AA AA 96 69 00 03 30 01 32"),
    ("appended_address", READ_APPENDED_ADDRESS, b"", "AA AA AA 96 69 00 03 30 03 30"),
    ("management_number", READ_MANAGEMENT_NUMBER, b"", "AA AA AA 96 69 00 03 30 05 36"),
    ("base_fingerprint", READ_BASE_FINGERPRINT, b"", "AA AA AA 96 69 00 03 30 10 23"),
    ("baud_115200", SET_BAUD[115200], b"", "AA AA AA 96 69 00 03 60 00 63"),
    ("baud_57600", SET_BAUD[57600], b"", "AA AA AA 96 69 00 03 60 01 62"),
    ("baud_38400", SET_BAUD[38400], b"", "AA AA AA 96 69 00 03 60 02 61"),
    ("baud_19200", SET_BAUD[19200], b"", "AA AA AA 96 69 00 03 60 03 60"),
    ("baud_9600", SET_BAUD[9600], b"", "AA AA AA 96 69 00 03 60 04 67"),
    ("max_rf_0x50", SET_MAX_RF_BYTES, b"\x50", "AA AA AA 96 69 00 04 61 FF 50 CA"),
    ("max_rf_0x58", SET_MAX_RF_BYTES, b"\x58", "AA AA AA 96 69 00 04 61 FF 58 C2"),
]
REQUEST_IDS = [row[0] for row in REQUEST_VECTORS]


@pytest.mark.parametrize(("name", "command", "data", "wire"), REQUEST_VECTORS, ids=REQUEST_IDS)
def test_command_encodes_reference_request(name, command, data, wire):
    assert command.encode(data) == h(wire)
    assert command.request(data).to_bytes() == h(wire)


def test_request_table_covers_every_command():
    assert {row[1] for row in REQUEST_VECTORS} == set(COMMANDS)


@pytest.mark.parametrize(("name", "command", "data", "wire"), REQUEST_VECTORS, ids=REQUEST_IDS)
def test_request_from_bytes_and_command_lookup(name, command, data, wire):
    request = Request.from_bytes(h(wire))
    assert request == Request(command.cmd, command.para, data)
    assert command_for(request) is command


@pytest.mark.parametrize("feeder", FEEDERS.values(), ids=FEEDERS.keys())
@pytest.mark.parametrize(("name", "command", "data", "wire"), REQUEST_VECTORS, ids=REQUEST_IDS)
def test_request_decoder_reference_requests(name, command, data, wire, feeder):
    decoder = RequestDecoder()
    assert feeder(decoder, h(wire)) == [command.request(data)]
    assert decoder.buffered == 0
    assert decoder.stats.frames == 1
    assert decoder.stats.discarded == 0


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
@pytest.mark.parametrize("feeder", FEEDERS.values(), ids=FEEDERS.keys())
def test_request_decoder_all_requests_in_junk(feeder, junk):
    stream = wrap_in_junk((h(row[3]) for row in REQUEST_VECTORS), junk)
    expected = [row[1].request(row[2]) for row in REQUEST_VECTORS]
    decoder = RequestDecoder()
    assert feeder(decoder, stream) == expected
    assert decoder.stats.bad_checksum == 0


def test_request_decoder_rejects_vendor_len2_frames():
    # Vendor "sleep"/"wake" (Len=2, no Para) are not GA 467 requests: skipped, hunt continues.
    stream = h("AA AA AA 96 69 00 02 00 02") + h("AA AA AA 96 69 00 02 01 03")
    stream += h("AA AA AA 96 69 00 03 11 FF ED")
    decoder = RequestDecoder()
    assert decoder.feed(stream) == [SAM_STATUS.request()]
    assert decoder.stats.bad_length >= 2


def test_command_request_data_validation():
    with pytest.raises(ValueError, match="set_max_rf_bytes: data required"):
        SET_MAX_RF_BYTES.request()
    with pytest.raises(ValueError, match="reset_sam: data not taken"):
        RESET_SAM.encode(b"\x00")


def test_command_success_codes():
    assert FIND_CARD.success == {Status.CARD_FOUND}
    assert Status.NO_CONTENT in READ_APPENDED_ADDRESS.success
    assert all(Status.SUCCESS in c.success for c in COMMANDS if c is not FIND_CARD)


# ---- §2 / §7.1 responses ---------------------------------------------------------------------

SAM_ID_DATA = h("05 00 01 00 FD B7 32 01 87 D6 12 00 00 5E D0 B2")

# (id, wire, status, data)
RESPONSE_VECTORS: list[tuple[str, str, int, bytes]] = [
    ("status_ok", "AA AA AA 96 69 00 04 00 00 90 94", 0x90, b""),
    ("find_ok", "AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97", 0x9F, bytes(4)),
    ("select_ok", "AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C", 0x90, bytes(8)),
    # §7.1 prints this frame with a stray trailing "27": Len 0x14 means 27 bytes ending in 86.
    (
        "sam_id",
        "AA AA AA 96 69 00 14 00 00 90 05 00 01 00 FD B7 32 01 87 D6 12 00 00 5E D0 B2 86",
        0x90,
        SAM_ID_DATA,
    ),
    ("fail_80", "AA AA AA 96 69 00 04 00 00 80 84", 0x80, b""),
    ("fail_81", "AA AA AA 96 69 00 04 00 00 81 85", 0x81, b""),
    ("fail_41", "AA AA AA 96 69 00 04 00 00 41 45", 0x41, b""),
    ("fail_91", "AA AA AA 96 69 00 04 00 00 91 95", 0x91, b""),
    ("fail_10", "AA AA AA 96 69 00 04 00 00 10 14", 0x10, b""),
    ("fail_11", "AA AA AA 96 69 00 04 00 00 11 15", 0x11, b""),
    ("fail_21", "AA AA AA 96 69 00 04 00 00 21 25", 0x21, b""),
    ("fail_31", "AA AA AA 96 69 00 04 00 00 31 35", 0x31, b""),
    ("fail_32", "AA AA AA 96 69 00 04 00 00 32 36", 0x32, b""),
    ("fail_33", "AA AA AA 96 69 00 04 00 00 33 37", 0x33, b""),
    ("fail_40", "AA AA AA 96 69 00 04 00 00 40 44", 0x40, b""),
    ("fail_47", "AA AA AA 96 69 00 04 00 00 47 43", 0x47, b""),
    ("fail_60", "AA AA AA 96 69 00 04 00 00 60 64", 0x60, b""),
    ("fail_66", "AA AA AA 96 69 00 04 00 00 66 62", 0x66, b""),
    ("fail_23", "AA AA AA 96 69 00 04 00 00 23 27", 0x23, b""),
    ("fail_24", "AA AA AA 96 69 00 04 00 00 24 20", 0x24, b""),
]
RESPONSE_IDS = [row[0] for row in RESPONSE_VECTORS]


@pytest.mark.parametrize("feeder", FEEDERS.values(), ids=FEEDERS.keys())
@pytest.mark.parametrize(("name", "wire", "sw3", "data"), RESPONSE_VECTORS, ids=RESPONSE_IDS)
def test_response_vector_decodes(name, wire, sw3, data, feeder):
    decoder = ResponseDecoder()
    frames = feeder(decoder, h(wire))
    assert frames == [Response(Status(sw3), data)]
    (frame,) = frames
    assert frame.status.value == sw3
    assert isinstance(frame.status, Status)
    assert frame.data == data
    assert (frame.sw1, frame.sw2) == (0, 0)
    assert frame.to_bytes() == h(wire)
    assert Response.from_bytes(h(wire)) == frame
    assert decoder.buffered == 0
    assert decoder.stats.frames == 1


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
@pytest.mark.parametrize("feeder", FEEDERS.values(), ids=FEEDERS.keys())
@pytest.mark.parametrize(("name", "wire", "sw3", "data"), RESPONSE_VECTORS, ids=RESPONSE_IDS)
def test_response_vector_in_junk(name, wire, sw3, data, feeder, junk):
    # The vector twice, with junk before, between and after: exactly two frames come out.
    stream = wrap_in_junk([h(wire), h(wire)], junk)
    decoder = ResponseDecoder()
    assert feeder(decoder, stream) == [Response(Status(sw3), data)] * 2
    assert decoder.stats.frames == 2
    assert decoder.stats.bad_checksum == 0
    assert decoder.stats.repaired_preamble == 0
    assert decoder.buffered <= len(PREAMBLE)  # only a possible preamble start stays behind


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
@pytest.mark.parametrize("feeder", FEEDERS.values(), ids=FEEDERS.keys())
def test_all_response_vectors_in_one_junky_stream(feeder, junk):
    stream = wrap_in_junk((h(row[1]) for row in RESPONSE_VECTORS), junk)
    expected = [Response(Status(row[2]), row[3]) for row in RESPONSE_VECTORS]
    assert feeder(ResponseDecoder(), stream) == expected


def test_sam_id_vector_as_printed_has_one_stray_byte():
    printed = h(
        "AA AA AA 96 69 00 14 00 00 90 05 00 01 00 FD B7 32 01 87 D6 12 00 00 5E D0 B2 86 27"
    )
    with pytest.raises(FrameError, match="frame size: expected 27, got 28"):
        Response.from_bytes(printed)
    decoder = ResponseDecoder()
    assert decoder.feed(printed) == [Response(Status.SUCCESS, SAM_ID_DATA)]
    assert decoder.buffered == 1  # the stray byte waits as possible noise


def test_checksum_examples_from_reference():
    assert xor_checksum(h("00 03 20 01")) == 0x22
    assert xor_checksum(h("00 08 00 00 9F 00 00 00 00")) == 0x97


# ---- Status ----------------------------------------------------------------------------------

SUCCESS_CODES = {0x90, 0x9F}
FATAL_CODES = {0x60, 0x66}
TRANSIENT_CODES = {0x81, 0x41, 0x31, 0x32, 0x33, 0x47, 0x40}
DOCUMENTED = [0x90, 0x9F, 0x91, 0x10, 0x11, 0x21, 0x23, 0x24, 0x31, 0x32, 0x33, 0x40, 0x41,
              0x47, 0x60, 0x66, 0x80, 0x81, 0xFF]  # fmt: skip


@pytest.mark.parametrize("code", [*DOCUMENTED, 0x00, 0x55, 0x92, 0xFE])
def test_status_properties(code):
    status = Status(code)
    assert status.value == code
    assert status.is_success is (code in SUCCESS_CODES)
    assert status.is_fatal is (code in FATAL_CODES)
    assert status.is_card_transient is (code in TRANSIENT_CODES)
    assert f"0x{code:02X}" in str(status)


def test_documented_statuses_have_meanings():
    for code in DOCUMENTED:
        status = Status(code)
        assert not status.name.startswith("UNDOCUMENTED")
        assert status.meaning != "undocumented status"
        assert status.meaning_zh != "未定义的状态"
    assert Status(0x80).meaning_zh == "寻找证/卡失败"
    assert Status(0x41).meaning == "read failed"


def test_undocumented_status_keeps_its_value():
    wire = Response(Status(0x55)).to_bytes()
    assert wire == h("AA AA AA 96 69 00 04 00 00 55 51")
    (frame,) = ResponseDecoder().feed(wire)
    assert frame.status == 0x55
    assert frame.status.value == 0x55
    assert frame.status.name == "UNDOCUMENTED_55"
    assert frame.status.meaning == "undocumented status"
    assert str(frame.status) == "SW3 0x55 (undocumented status)"
    assert frame == Response(Status(0x55))
    assert Response.from_bytes(frame.to_bytes()) == frame


@pytest.mark.parametrize("value", [-1, 0x100, "90", None])
def test_status_rejects_non_bytes(value):
    with pytest.raises(ValueError):
        Status(value)


# ---- §7.1 synthetic base message (generated here, never checked in) -------------------------

# §3.1 resident card text fields: (value, width in UCS-2 chars); 128 chars = 256 bytes.
BASE_TEXT_FIELDS: list[tuple[str, int]] = [
    ("张三", 15),  # name
    ("2", 1),  # sex
    ("01", 2),  # nation
    ("19491231", 8),  # birth
    ("北京市朝阳区测试路1号", 35),  # address
    ("11010519491231002X", 18),  # ID number
    ("北京市公安局朝阳分局", 15),  # issuing authority
    ("20200101", 8),  # valid from
    ("长期", 8),  # valid to
    ("", 18),  # reserved
]
WLT_PREFIX = h("57 4C 66 00 7E 00 32 00 00 FF 85")
BASE_SHA256 = "d3ebfefb8f82f36be8669eea93d3f4e4e83352519da77da2b616ad7c4f99a497"


def make_text_block(fields: list[tuple[str, int]] = BASE_TEXT_FIELDS) -> bytes:
    block = b""
    for value, width in fields:
        assert len(value) <= width
        block += value.ljust(width, " ").encode("utf-16-le")
    assert len(block) == 256
    return block


def make_photo() -> bytes:
    return WLT_PREFIX + bytes(1024 - len(WLT_PREFIX))


def make_fingerprint(size: int) -> bytes:
    # Deliberately full of preamble bytes: a frame's binary may carry them legally.
    pattern = PREAMBLE + h("00 04 00 00 90 94") + bytes(range(0x40))
    return (pattern * (size // len(pattern) + 1))[:size]


def make_frame(header: bytes, payload: bytes) -> bytes:
    """Header (preamble .. SW3) + payload + XOR of bytes 5..n-2: the §7.1 recipe by hand."""
    body = header + payload
    return body + bytes([xor_checksum(body[5:])])


def make_base_frame() -> bytes:
    header = h("AA AA AA 96 69 05 08 00 00 90 01 00 04 00")
    return make_frame(header, make_text_block() + make_photo())


def make_fingerprint_frame(fp_size: int) -> bytes:
    len_field = 3 + 6 + 256 + 1024 + fp_size + 1
    header = PREAMBLE + len_field.to_bytes(2, "big") + h("00 00 90 01 00 04 00")
    header += fp_size.to_bytes(2, "big")
    return make_frame(header, make_text_block() + make_photo() + make_fingerprint(fp_size))


def test_text_block_layout():
    block = make_text_block()
    assert block[:4] == h("20 5F 09 4E")  # 张三
    assert block[4:30] == h("20 00") * 13
    first64_tail = "32 00 30 00 31 00 31 00 39 00 34 00 39 00 31 00 32 00 33 00 31 00"
    first64_tail += " 17 53 AC 4E 02 5E 1D 67 33 96 3A 53"
    assert block[30:64] == h(first64_tail)
    assert block[122:158] == "11010519491231002X".encode("utf-16-le")
    assert block[204:220] == h("7F 95 1F 67") + h("20 00") * 6  # 长期
    assert block[220:256] == h("20 00") * 18
    assert block[248:250] == h("20 00")  # resident card discriminator


def test_synthetic_base_frame_matches_reference():
    frame = make_base_frame()
    assert len(frame) == 1295
    assert frame[-1] == 0x79
    assert hashlib.sha256(frame).hexdigest() == BASE_SHA256
    assert frame[14:270] == make_text_block()  # text at frame offset 14
    assert frame[270:281] == WLT_PREFIX  # photo at frame offset 270


@pytest.mark.parametrize("feeder", FEEDERS.values(), ids=FEEDERS.keys())
def test_synthetic_base_frame_decodes(feeder):
    frame = make_base_frame()
    decoder = ResponseDecoder()
    (response,) = feeder(decoder, frame)
    assert response.status is Status.SUCCESS
    assert len(response.data) == 1284
    assert response.to_bytes() == frame
    message = decode_base_message(response.data, with_fingerprint=False)
    assert message == BaseMessage(text=make_text_block(), photo=make_photo(), fingerprint=None)
    assert encode_base_message(message.text, message.photo) == response.data


@pytest.mark.parametrize("junk", JUNK.values(), ids=JUNK.keys())
def test_synthetic_base_frame_between_status_frames_in_junk(junk):
    status_ok = h("AA AA AA 96 69 00 04 00 00 90 94")
    stream = wrap_in_junk([status_ok, make_base_frame(), status_ok], junk)
    for feeder in FEEDERS.values():
        frames = feeder(ResponseDecoder(), stream)
        assert [f.to_bytes() for f in frames] == [status_ok, make_base_frame(), status_ok]


FINGERPRINT_VARIANTS = [
    (1024, "AA AA AA 96 69 09 0A 00 00 90 01 00 04 00 04 00", 2321),
    (512, "AA AA AA 96 69 07 0A 00 00 90 01 00 04 00 02 00", 1809),
    (0, "AA AA AA 96 69 05 0A 00 00 90 01 00 04 00 00 00", 1297),
]


@pytest.mark.parametrize("feeder", FEEDERS.values(), ids=FEEDERS.keys())
@pytest.mark.parametrize(("fp_size", "header", "total"), FINGERPRINT_VARIANTS)
def test_fingerprint_variants(fp_size, header, total, feeder):
    frame = make_fingerprint_frame(fp_size)
    assert len(frame) == total
    assert frame[:16] == h(header)
    assert frame[16:272] == make_text_block()  # text at 16, photo at 272, fingerprint at 1296
    assert frame[272:283] == WLT_PREFIX
    assert frame[1296:-1] == make_fingerprint(fp_size)
    assert total <= MAX_FRAME
    decoder = ResponseDecoder()
    (response,) = feeder(decoder, frame)
    assert response.to_bytes() == frame
    assert decoder.stats.frames == 1  # the preamble copies inside the fingerprint stay data
    message = decode_base_message(response.data, with_fingerprint=True)
    assert message.text == make_text_block()
    assert message.photo == make_photo()
    assert message.fingerprint == make_fingerprint(fp_size)
    assert encode_base_message(message.text, message.photo, message.fingerprint) == response.data


def test_base_message_declared_lengths_clamped_but_honoured():
    # A 300-byte declared text: copy 256 (like sdtapi), but the photo starts after all 300.
    data = (300).to_bytes(2, "big") + (4).to_bytes(2, "big") + bytes(300) + b"WLT!"
    message = decode_base_message(data, with_fingerprint=False)
    assert message.text == bytes(256)
    assert message.photo == b"WLT!"


def test_base_message_short_data_names_expected_and_got():
    with pytest.raises(FrameError, match="expected at least 6 bytes, got 4"):
        decode_base_message(h("01 00 04 00"), with_fingerprint=True)
    with pytest.raises(FrameError, match="expected 1284 bytes, got 1283"):
        decode_base_message(make_base_frame()[10:-2], with_fingerprint=False)


def test_appended_addresses_split():
    entry = "测试路2号".ljust(35).encode("utf-16-le")
    assert split_appended_addresses(entry) == [entry]
    assert split_appended_addresses(entry * 4) == [entry] * 4
    assert split_appended_addresses(entry * 5) == [entry] * 4  # GA 490: at most four
    assert split_appended_addresses(entry + b"\x20\x00\x20") == [entry, b"\x20\x00"]
    assert split_appended_addresses(b"") == []


# ---- nasty streams ----------------------------------------------------------------------------

STATUS_OK = h("AA AA AA 96 69 00 04 00 00 90 94")
FIND_OK = h("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97")
SELECT_OK = h("AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C")
R_STATUS_OK = Response(Status.SUCCESS)
R_FIND_OK = Response(Status.CARD_FOUND, bytes(4))
R_SELECT_OK = Response(Status.SUCCESS, bytes(8))


def corrupt(frame: bytes, index: int) -> bytes:
    index %= len(frame)
    return frame[:index] + bytes([frame[index] ^ 0x01]) + frame[index + 1 :]


def base_frame_with_photo(photo: bytes) -> bytes:
    return make_frame(h("AA AA AA 96 69 05 08 00 00 90 01 00 04 00"), make_text_block() + photo)


# A photo that carries a complete, valid status frame and a bare sync inside it.
TRAPPED_PHOTO = (WLT_PREFIX + STATUS_OK + h("AA AA 96 69 00 04") + STATUS_OK).ljust(1024, b"\0")

# (id, stream, expected frames, expected stats: name -> exact value)
NASTY_STREAMS: list[tuple[str, bytes, list[Response], dict[str, int]]] = [
    (
        "bad_checksum_then_good",
        corrupt(STATUS_OK, -1) + FIND_OK,
        [R_FIND_OK],
        {"bad_checksum": 1, "frames": 1},
    ),
    (
        "bad_data_byte_then_good",
        corrupt(SELECT_OK, 12) + STATUS_OK,
        [R_STATUS_OK],
        {"bad_checksum": 1, "frames": 1},
    ),
    (
        "corrupt_length_byte_then_good",
        # Len 8 -> 9 swallows the next frame's first byte; the checksum drops it, and the rest
        # of the next frame still synchronises on AA AA 96 69 (repaired preamble).
        corrupt(FIND_OK, 6) + SELECT_OK,
        [R_SELECT_OK],
        {"frames": 1, "bad_checksum": 1, "repaired_preamble": 1},
    ),
    (
        "field_inserted_byte_select",
        h("AA 00 AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C"),
        [R_SELECT_OK],
        {"repaired_preamble": 1, "frames": 1, "bad_checksum": 0},
    ),
    (
        "good_then_inserted_byte_then_good",
        FIND_OK + h("AA 00 AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C") + STATUS_OK,
        [R_FIND_OK, R_SELECT_OK, R_STATUS_OK],
        {"repaired_preamble": 1, "frames": 3},
    ),
    (
        "first_preamble_byte_lost",
        STATUS_OK[1:] + FIND_OK,
        [R_STATUS_OK, R_FIND_OK],
        {"repaired_preamble": 1, "frames": 2},
    ),
    ("len_0", h("AA AA AA 96 69 00 00") + STATUS_OK, [R_STATUS_OK], {"bad_length": 1}),
    ("len_3", h("AA AA AA 96 69 00 03 00 00 90") + STATUS_OK, [R_STATUS_OK], {"bad_length": 1}),
    ("len_0A01", h("AA AA AA 96 69 0A 01 00 00 90") + STATUS_OK, [R_STATUS_OK], {"bad_length": 1}),
    ("len_FFFF", h("AA AA AA 96 69 FF FF") + FIND_OK, [R_FIND_OK], {"bad_length": 1}),
    (
        "sync_in_junk_then_frame",  # the frame's own preamble reads as a length 0xAAAA
        h("00 AA AA 96 69") + SELECT_OK,
        [R_SELECT_OK],
        {"bad_length": 1, "frames": 1},
    ),
    (
        "two_bad_lengths_back_to_back",
        h("AA AA AA 96 69 00 01 AA AA AA 96 69 0B 00") + STATUS_OK,
        [R_STATUS_OK],
        {"bad_length": 2},
    ),
    (
        "preamble_inside_photo_no_resync",
        base_frame_with_photo(TRAPPED_PHOTO) + FIND_OK,
        [Response(Status.SUCCESS, h("01 00 04 00") + make_text_block() + TRAPPED_PHOTO), R_FIND_OK],
        {"frames": 2, "bad_checksum": 0, "bad_length": 0},
    ),
    (
        "corrupt_frame_with_trapped_frames_dropped_whole",
        corrupt(base_frame_with_photo(TRAPPED_PHOTO), 20) + FIND_OK,
        [R_FIND_OK],  # the status frames inside the dropped photo must not surface
        {"frames": 1, "bad_checksum": 1},
    ),
    (
        "error_frame_with_card_sw1_sw2",
        h("AA AA AA 96 69 00 04 6A 82 41 AD") + h("AA AA AA 96 69 00 04 63 00 81 E6"),
        [
            Response(Status.READ_FAILED, sw1=0x6A, sw2=0x82),
            Response(Status.SELECT_FAILED, sw1=0x63, sw2=0x00),
        ],
        {"frames": 2},
    ),
    (
        "undocumented_status",
        h("AA AA AA 96 69 00 04 00 00 55 51") + STATUS_OK,
        [Response(Status(0x55)), R_STATUS_OK],
        {"frames": 2},
    ),
    (
        "max_len_boundary_accepted",
        Response(Status.SUCCESS, bytes(MAX_LEN - 4)).to_bytes(),
        [Response(Status.SUCCESS, bytes(MAX_LEN - 4))],
        {"frames": 1, "bad_length": 0},
    ),
]


@pytest.mark.parametrize("feeder", FEEDERS.values(), ids=FEEDERS.keys())
@pytest.mark.parametrize(
    ("name", "stream", "expected", "stats"), NASTY_STREAMS, ids=[row[0] for row in NASTY_STREAMS]
)
def test_nasty_stream(name, stream, expected, stats, feeder):
    decoder = ResponseDecoder()
    assert feeder(decoder, stream) == expected
    for key, value in stats.items():
        assert getattr(decoder.stats, key) == value, key
    assert decoder.buffered < MAX_FRAME


def test_error_frame_sw1_sw2_checksums_by_hand():
    assert xor_checksum(h("00 04 6A 82 41")) == 0xAD
    assert xor_checksum(h("00 04 63 00 81")) == 0xE6
    frame = Response.from_bytes(h("AA AA AA 96 69 00 04 6A 82 41 AD"))
    assert (frame.sw1, frame.sw2, frame.status) == (0x6A, 0x82, Status.READ_FAILED)
    assert not frame.status.is_success
    assert frame.status.is_card_transient


def test_corrupt_length_then_next_frame_after_reset():
    # A corrupted Len swallows bytes of the following frame; reset() before the next request
    # is what brings the host back.
    decoder = ResponseDecoder()
    assert decoder.feed(corrupt(FIND_OK, 5) + SELECT_OK) == []  # Len 0x0108: waits for 271
    decoder.reset()
    assert decoder.feed(STATUS_OK) == [R_STATUS_OK]


def test_truncated_frame_then_reset_then_good_frame():
    decoder = ResponseDecoder()
    base = make_base_frame()
    assert decoder.feed(base[:700]) == []
    assert decoder.buffered == 700
    # Without reset the good frame would be read as part of the truncated one.
    decoder.reset()
    assert decoder.buffered == 0
    assert decoder.stats.discarded == 700
    assert decoder.feed(STATUS_OK) == [R_STATUS_OK]
    assert decoder.stats.frames == 1


def test_truncated_frame_without_reset_swallows_next():
    decoder = ResponseDecoder()
    decoder.feed(make_base_frame()[:700])
    assert decoder.feed(STATUS_OK) == []  # documents why the reader calls reset()


def test_partial_header_waits():
    decoder = ResponseDecoder()
    for i in range(len(STATUS_OK) - 1):
        assert decoder.feed(STATUS_OK[i : i + 1]) == []
    assert decoder.buffered == len(STATUS_OK) - 1
    assert decoder.feed(STATUS_OK[-1:]) == [R_STATUS_OK]


def test_long_garbage_keeps_buffer_small():
    decoder = ResponseDecoder()
    garbage = bytes(range(256)) * 40  # contains AA and 96 and 69, never the sync
    assert decoder.feed(garbage) == []
    assert decoder.buffered <= len(PREAMBLE) - 1
    assert decoder.stats.discarded == len(garbage) - decoder.buffered
    assert decoder.feed(STATUS_OK) == [R_STATUS_OK]


# ---- from_bytes errors: expected vs got --------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "wire", "error", "message"),
    [
        (Response, "AB AA AA 96 69 00 04 00 00 90 94", FrameError,
         "preamble: expected aa aa aa 96 69, got ab aa aa 96 69"),
        (Response, "AA AA AA 96 69 00 04 00 00 90", FrameError,
         "frame size: expected at least 11, got 10"),
        (Response, "AA AA AA 96 69 00 03 00 00 90 93", FrameError, "Len: expected 4..2560, got 3"),
        (Response, "AA AA AA 96 69 0A 01 00 00 90 94", FrameError,
         "Len: expected 4..2560, got 2561"),
        (Response, "AA AA AA 96 69 00 05 00 00 90 94", FrameError,
         "frame size: expected 12, got 11"),
        (Response, "AA AA AA 96 69 00 04 00 00 90 94 00", FrameError,
         "frame size: expected 11, got 12"),
        (Response, "AA AA AA 96 69 00 04 00 00 90 95", ChecksumError,
         "checksum: expected 0x94, got 0x95"),
        (Request, "AA AA AA 96 69 00 03 20 01 21", ChecksumError,
         "checksum: expected 0x22, got 0x21"),  # the C sample's wrong find checksum (§7.2)
        (Request, "AA AA AA 96 69 00 02 00 02 00", FrameError, "Len: expected 3..2560, got 2"),
        (Request, "AA AA AA 96 69 00 03 20", FrameError,
         "frame size: expected at least 10, got 8"),
        (Request, "", FrameError, "preamble: expected aa aa aa 96 69, got $"),
    ],
)  # fmt: skip
def test_from_bytes_errors_name_expected_and_got(cls, wire, error, message):
    with pytest.raises(error, match=message.replace(".", r"\.")) as info:
        cls.from_bytes(h(wire))
    assert isinstance(info.value, IdCardError)


def test_checksum_error_is_a_frame_error():
    assert issubclass(ChecksumError, FrameError)
