"""Line framing, sans-IO: every vector whole, byte by byte, and with junk around it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.barcode.lines import FRAMINGS, LineDecoder, MrzAssembler, encode
from drivers.barcode.mrzbuild import MrzFields, td1, td3

PAYLOADS = [b"BK-0042", "张三".encode("gbk"), b"https://example.org/?a=1&b=2", b"x"]


def feed_whole(decoder: LineDecoder, data: bytes) -> list[bytes]:
    return decoder.feed(data)


def feed_bytewise(decoder: LineDecoder, data: bytes) -> list[bytes]:
    out: list[bytes] = []
    for i in range(len(data)):
        out.extend(decoder.feed(data[i : i + 1]))
    return out


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("feed", [feed_whole, feed_bytewise])
def test_round_trip_each_framing(framing, feed):
    data = b"".join(encode(p, framing) for p in PAYLOADS)
    assert feed(LineDecoder(framing), data) == PAYLOADS


@pytest.mark.parametrize("feed", [feed_whole, feed_bytewise])
def test_stx_etx_keeps_a_multiline_mrz_whole_and_drops_junk(feed):
    mrz = td3(MrzFields()).encode().replace(b"\n", b"\r\n")
    data = b"\x00junk\r\n" + encode(mrz, "stx-etx") + b"\r\n\xff" + encode(b"NEXT1", "stx-etx")
    decoder = LineDecoder("stx-etx")
    assert feed(decoder, data) == [mrz, b"NEXT1"]
    assert decoder.stats.garbage_bytes == len(b"\x00junk\r\n") + len(b"\r\n\xff")


def test_auto_takes_both_styles_and_a_restarted_frame():
    decoder = LineDecoder("auto")
    data = b"A1\r\n\x02B\r2\x03C3\t\x02lost\x02D4\x03"
    assert decoder.feed(data) == [b"A1", b"B\r2", b"C3", b"D4"]


def test_empty_lines_are_not_scans():
    assert LineDecoder("cr").feed(b"\r\rA\r\r") == [b"A"]
    assert LineDecoder("crlf").feed(b"\r\n\r\nA\r\n\r\n") == [b"A"]


def test_overflow_drops_the_line_and_resynchronises():
    decoder = LineDecoder("lf", max_len=8)
    assert decoder.feed(b"0123456789ABCDEF\nOK\n") == [b"OK"]
    assert decoder.stats.overflows == 1
    framed = LineDecoder("stx-etx", max_len=4)
    assert framed.feed(b"\x02toolong\x03\x02ok\x03") == [b"ok"]


def test_unknown_framing_is_refused():
    with pytest.raises(ValueError, match="framing"):
        LineDecoder("semicolon")
    with pytest.raises(ValueError, match="framing"):
        encode(b"x", "semicolon")


@given(
    framing=st.sampled_from(FRAMINGS),
    payloads=st.lists(st.binary(min_size=1, max_size=40), max_size=6),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=8),
)
def test_any_payloads_any_chunking(framing, payloads, cuts):
    # Payload bytes that collide with the framing's own control bytes cannot be sent raw.
    control = {"stx-etx": b"\x02\x03", "auto": b"\x02\x03\r\n\t"}.get(framing, b"\r\n\t")
    payloads = [bytes(b for b in p if b not in control) for p in payloads]
    payloads = [p for p in payloads if p]
    data = b"".join(encode(p, framing) for p in payloads)
    decoder = LineDecoder(framing)
    out: list[bytes] = []
    previous = 0
    for cut in [*sorted(c for c in cuts if c <= len(data)), len(data)]:
        out.extend(decoder.feed(data[previous:cut]))
        previous = cut
    assert out == payloads


def test_mrz_assembler_joins_lines_and_passes_others():
    lines = td1(MrzFields(document_type="I")).encode().split(b"\n")
    joiner = MrzAssembler(gap=0.3)
    assert joiner.push(b"BK-1", 0.0) == [b"BK-1"]
    assert joiner.push(lines[0], 1.0) == []
    assert joiner.push(lines[1], 1.01) == []
    assert joiner.pending
    assert joiner.push(lines[2], 1.02) == [b"\n".join(lines)]


def test_mrz_assembler_releases_a_partial_mrz_after_the_gap():
    lines = td3(MrzFields()).encode().split(b"\n")
    joiner = MrzAssembler(gap=0.3)
    assert joiner.push(lines[0], 0.0) == []
    assert joiner.flush(0.1) == []
    assert joiner.flush(0.4) == [lines[0]]
    assert joiner.push(lines[0], 1.0) == []
    assert joiner.push(b"BK-2", 1.1) == [lines[0], b"BK-2"]
