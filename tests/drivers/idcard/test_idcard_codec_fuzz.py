"""Hypothesis properties of the GA 467 codec: chunking, garbage, round trips."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.idcard.codec import (
    MAX_FRAME,
    MAX_LEN,
    PREAMBLE,
    Request,
    RequestDecoder,
    Response,
    ResponseDecoder,
    Status,
    xor_checksum,
)
from drivers.idcard.errors import FrameError
from drivers.idcard.sam_answers import (
    FINGERPRINT_MAX,
    PHOTO_MAX,
    TEXT_MAX,
    decode_base_message,
    encode_base_message,
)

SYNC = b"\xaa\xaa\x96\x69"
FUZZ = settings(deadline=None, max_examples=150)

statuses = st.integers(0, 0xFF).map(Status)
bytes_ = st.integers(0, 0xFF)
responses = st.builds(
    Response, status=statuses, data=st.binary(max_size=300), sw1=bytes_, sw2=bytes_
)
requests = st.builds(Request, cmd=bytes_, para=bytes_, data=st.binary(max_size=300))

# Garbage biased towards preamble bytes, with every AA AA 96 69 broken up.
_noise_byte = st.one_of(st.sampled_from([0xAA, 0x96, 0x69]), bytes_)


def _without_sync(raw: list[int]) -> bytes:
    data = bytes(raw)
    while SYNC in data:
        data = data.replace(SYNC, b"\xaa\x96")
    return data


garbage = st.lists(_noise_byte, max_size=40).map(_without_sync)


def split(stream: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    return [stream[a:b] for a, b in itertools.pairwise(points)]


def interleave(frames: list[Request] | list[Response], fillers: list[bytes]) -> bytes:
    """filler, frame, filler, frame, ..., filler (fillers has one more item than frames)."""
    tail = [f.to_bytes() + g for f, g in zip(frames, fillers[1:], strict=False)]
    return fillers[0] + b"".join(tail)


chunk_cuts = st.one_of(
    st.lists(st.integers(0, 10_000), max_size=30),
    st.just(list(range(10_000))),  # one byte per feed()
)


# (a) valid frames in garbage, any chunking -> exactly those frames, in order
@FUZZ
@given(
    frames=st.lists(responses, max_size=6),
    fillers=st.lists(garbage, min_size=7, max_size=7),
    cuts=chunk_cuts,
)
def test_frames_in_garbage_any_chunking(frames, fillers, cuts):
    stream = interleave(frames, fillers)
    decoder = ResponseDecoder()
    got: list[Response] = []
    for chunk in split(stream, cuts):
        got += decoder.feed(chunk)
    assert got == frames
    assert decoder.stats.frames == len(frames)
    assert decoder.stats.bad_checksum == 0
    assert decoder.stats.repaired_preamble == 0  # no first preamble byte lost to chunking


@FUZZ
@given(
    frames=st.lists(requests, max_size=6),
    fillers=st.lists(garbage, min_size=7, max_size=7),
    cuts=chunk_cuts,
)
def test_requests_in_garbage_any_chunking(frames, fillers, cuts):
    stream = interleave(frames, fillers)
    decoder = RequestDecoder()
    got: list[Request] = []
    for chunk in split(stream, cuts):
        got += decoder.feed(chunk)
    assert got == frames


# (b) arbitrary bytes never raise, never yield a bad frame, keep the buffer bounded
def _damaged(frame: bytes, where: int, what: int) -> bytes:
    where %= len(frame)
    return frame[:where] + bytes([frame[where] ^ (what or 1)]) + frame[where + 1 :]


_pieces = st.one_of(
    st.binary(max_size=60),
    st.sampled_from(
        [PREAMBLE, SYNC, b"\xaa", b"\xaa\x00" + SYNC, PREAMBLE + b"\x0a\x00", PREAMBLE + b"\x00"]
    ),
    responses.map(Response.to_bytes),
    requests.map(Request.to_bytes),
    st.builds(_damaged, responses.map(Response.to_bytes), st.integers(), bytes_),
    st.builds(lambda f, n: f[: n % len(f)], responses.map(Response.to_bytes), st.integers()),
    st.builds(  # a header announcing a (possibly huge) length with nothing behind it
        lambda n: PREAMBLE + n.to_bytes(2, "big"), st.integers(0, 0xFFFF)
    ),
)
arbitrary_streams = st.lists(_pieces, max_size=20).map(b"".join)


def _check_arbitrary(decoder: ResponseDecoder | RequestDecoder, stream: bytes, cuts: list[int]):
    count = 0
    for chunk in split(stream, cuts):
        frames = decoder.feed(chunk)
        assert decoder.buffered <= MAX_FRAME + len(chunk)
        assert decoder.buffered < MAX_FRAME  # after feed() returns, at most a partial frame
        for frame in frames:
            wire = frame.to_bytes()
            assert xor_checksum(wire[len(PREAMBLE) :]) == 0
            # It was really on the wire (minus a repaired first preamble byte), checksum and all.
            assert wire[1:] in stream
        count += len(frames)
    assert decoder.stats.frames == count


@FUZZ
@given(stream=arbitrary_streams, cuts=chunk_cuts)
def test_response_decoder_survives_anything(stream, cuts):
    _check_arbitrary(ResponseDecoder(), stream, cuts)


@FUZZ
@given(stream=arbitrary_streams, cuts=chunk_cuts)
def test_request_decoder_survives_anything(stream, cuts):
    _check_arbitrary(RequestDecoder(), stream, cuts)


@settings(deadline=None, max_examples=50)
@given(stream=st.binary(min_size=MAX_FRAME, max_size=3 * MAX_FRAME), cuts=chunk_cuts)
def test_long_random_streams_stay_bounded(stream, cuts):
    _check_arbitrary(ResponseDecoder(), stream, cuts)


# (c) round trips
@FUZZ
@given(
    response=st.builds(
        Response, status=statuses, data=st.binary(max_size=MAX_LEN - 4), sw1=bytes_, sw2=bytes_
    )
)
def test_response_round_trip(response):
    wire = response.to_bytes()
    assert len(wire) == 7 + 3 + len(response.data) + 1
    assert Response.from_bytes(wire) == response
    assert ResponseDecoder().feed(wire) == [response]


@FUZZ
@given(request=st.builds(Request, cmd=bytes_, para=bytes_, data=st.binary(max_size=MAX_LEN - 3)))
def test_request_round_trip(request):
    wire = request.to_bytes()
    assert Request.from_bytes(wire) == request
    assert RequestDecoder().feed(wire) == [request]


@FUZZ
@given(response=responses, position=st.integers(), bit=st.integers(0, 7))
def test_any_bit_flip_is_rejected_by_from_bytes(response, position, bit):
    wire = bytearray(response.to_bytes())
    wire[position % len(wire)] ^= 1 << bit
    try:
        Response.from_bytes(bytes(wire))
    except FrameError:
        return
    raise AssertionError("a flipped bit went unnoticed")


# (d) base message round trip
@FUZZ
@given(
    text=st.binary(max_size=TEXT_MAX),
    photo=st.binary(max_size=PHOTO_MAX),
    fingerprint=st.none() | st.binary(max_size=FINGERPRINT_MAX),
)
def test_base_message_round_trip(text, photo, fingerprint):
    payload = encode_base_message(text, photo, fingerprint)
    message = decode_base_message(payload, with_fingerprint=fingerprint is not None)
    assert (message.text, message.photo, message.fingerprint) == (text, photo, fingerprint)
    # And through a whole frame as the SAM would send it.
    (frame,) = ResponseDecoder().feed(Response(Status.SUCCESS, payload).to_bytes())
    assert frame.data == payload
