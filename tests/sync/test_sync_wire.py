"""Wire protocol v1 messages: round trips, field-by-field refusals, bounded bodies, batching."""

from __future__ import annotations

import dataclasses
import gzip
import json

import pytest

from sync.body import decode_body, encode_batch, encode_body, split_batches
from sync.errors import InvalidEventError, ProtocolError
from sync.messages import DayReport, Enrolment, ErrorBody, Heartbeat, HeartbeatAnswer
from sync.protocol import (
    ACCEPTED,
    REJECTED,
    Batch,
    BatchAnswer,
    BatchEnvelope,
    EventResult,
    Limits,
    SenderClock,
    WireEvent,
)
from tests.sync.wire_helpers import EventChain

CLOCK = SenderClock("2025-03-01T02:00:00.000000Z", True, 123, "boot")


def chain() -> EventChain:
    return EventChain("dev-1", "4401040001")


def test_event_round_trip_and_checks() -> None:
    event = chain().check_in()
    again = WireEvent.from_json(json.loads(json.dumps(event.to_json())))
    assert again == event
    assert again.check_payload() is not None and again.chain_consistent
    assert event.payload is not None
    stored = WireEvent.from_stored(event.payload, payload_sha256=event.payload_sha256,
                                   prev_chain_sha256=event.prev_chain_sha256,
                                   chain_sha256=event.chain_sha256)
    assert stored == event


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"event_id": "ABC"}, "invalid_event", "event_id"),
    ({"sequence": 0}, "invalid_event", "sequence"),
    ({"sequence": "1"}, "invalid_event", "sequence"),
    ({"kind": "delete"}, "invalid_event", "kind"),
    ({"target_event_id": "0" * 8 + "-0000-7000-8000-" + "0" * 12}, "invalid_event",
     "target_event_id"),
    ({"wall_time": "2025-03-01 02:00:00"}, "invalid_event", "wall_time"),
    ({"wall_time": "2025-13-01T02:00:00.000000Z"}, "invalid_event", "wall_time"),
    ({"clock_synchronised": 1}, "invalid_event", "clock_synchronised"),
    ({"payload_sha256": "A" * 64}, "invalid_event", "payload_sha256"),
    ({"operator": ""}, "invalid_event", "operator"),
    ({"payload": None}, "invalid_event", "withheld"),
    ({"withheld": "purged"}, "invalid_event", "withheld"),
    ({"payload": "x" * 70_000}, "too_large", "payload"),
    ({"payload": "张" * 30_000}, "too_large", "payload"),
])
def test_event_refusals_name_the_field(change: dict[str, object], code: str, field: str) -> None:
    doc = {**chain().check_in().to_json(), **change}
    with pytest.raises(InvalidEventError) as refused:
        WireEvent.from_json(doc, "events[0].")
    assert (refused.value.code, refused.value.field) == (code, "events[0]." + field)


def test_missing_field_is_its_own_code() -> None:
    doc = chain().check_in().to_json()
    del doc["boot_id"]
    with pytest.raises(InvalidEventError) as refused:
        WireEvent.from_json(doc)
    assert (refused.value.code, refused.value.field) == ("missing_field", "boot_id")


def test_payload_checks() -> None:
    event = chain().check_in()
    assert event.payload is not None
    with pytest.raises(InvalidEventError, match="payload_sha256"):
        dataclasses.replace(event, payload=event.payload + " ").check_payload()
    moved = dataclasses.replace(event, operator="someone else")
    with pytest.raises(InvalidEventError) as refused:
        moved.check_payload()
    assert (refused.value.code, refused.value.field) == ("header_mismatch", "operator")
    assert not dataclasses.replace(event, chain_sha256="0" * 64).chain_consistent
    assert not dataclasses.replace(event, prev_chain_sha256="1" * 64).chain_consistent


def test_batch_envelope_keeps_bad_events_apart() -> None:
    good = chain().check_in()
    doc = {"protocol": 1, "device_id": "dev-1", "site_code": "4401040001",
           "clock": CLOCK.to_json(), "events": [good.to_json(), {"event_id": "x" * 40}, None]}
    envelope = BatchEnvelope.from_json(doc)
    assert envelope.events[0] == good
    assert all(isinstance(e, InvalidEventError) for e in envelope.events[1:])
    assert envelope.raw_ids == [good.event_id, None, None]  # too long to echo back
    with pytest.raises(ProtocolError) as too_many:
        BatchEnvelope.from_json({**doc, "events": [good.to_json()] * 3}, Limits(max_events=2))
    assert too_many.value.code == "too_many_events"
    with pytest.raises(ProtocolError) as old:
        BatchEnvelope.from_json({**doc, "protocol": 0})
    assert old.value.code == "unsupported_protocol"


def test_answers_parse_and_must_match_what_was_sent() -> None:
    a, b = chain().stays(2)
    answer = BatchAnswer("2025-03-01T02:00:00.000000Z", 12, (
        EventResult(a.event_id, ACCEPTED, receipt="R1"),
        EventResult(b.event_id, REJECTED, code="wrong_site", field="site_code", message="no")))
    doc = json.loads(json.dumps(answer.to_json()))
    assert doc["results"][0] == {"event_id": a.event_id, "status": "accepted", "receipt": "R1"}
    assert BatchAnswer.from_json(doc, sent=[a, b]) == answer
    assert [r.delivered for r in answer.results] == [True, False]
    with pytest.raises(ProtocolError) as mismatch:
        BatchAnswer.from_json(doc, sent=[b, a])
    assert mismatch.value.code == "answer_mismatch"
    with pytest.raises(ProtocolError):
        BatchAnswer.from_json({**doc, "results": [{"event_id": a.event_id, "status": "ok"}]})


def test_control_messages_round_trip() -> None:
    beat = Heartbeat("dev-1", "4401040001", CLOCK, "1.0", 3, 12.5, "connected", 10**9, None, 1,
                     (DayReport("2025-03-01", 0),))
    assert Heartbeat.from_json(json.loads(json.dumps(beat.to_json()))) == beat
    assert beat.clock_synchronised
    enrolment = Enrolment("dev-1", "4401040001", "旅馆", "s" * 43, CLOCK.wall_time)
    assert Enrolment.from_json(enrolment.to_json()) == enrolment
    hb = HeartbeatAnswer(CLOCK.wall_time, 5, 300)
    assert HeartbeatAnswer.from_json(hb.to_json()) == hb
    error = ErrorBody.from_json({"error": {"code": "x", "message": "y", "max_events": 5}})
    assert error.detail == {"max_events": 5} and error.to_json()["error"]["code"] == "x"


def test_bodies_are_gzip_json_and_bounded_when_inflated() -> None:
    doc = {"protocol": 1, "name": "张三"}
    raw = encode_body(doc)
    assert raw == encode_body(doc) and gzip.decompress(raw).decode() == (
        '{"protocol":1,"name":"张三"}')
    assert decode_body(raw, "gzip", 100) == doc
    assert decode_body(b'{"a":1}', None, 100) == {"a": 1}
    cases = [(gzip.compress(b" " * 10_000), "gzip", "body_too_large"),
             (raw[:-4], "gzip", "invalid_body"), (b"\x1f\x8b junk", "gzip", "invalid_body"),
             (raw, "br", "unsupported_encoding"), (b"\xff", None, "invalid_body")]
    for body, encoding, code in cases:
        with pytest.raises(ProtocolError) as refused:
            decode_body(body, encoding, 1000)
        assert refused.value.code == code


@pytest.mark.parametrize("count", [0, 1, 7])
def test_a_batch_streamed_event_by_event_is_the_same_json(count: int) -> None:
    events = chain().stays(count)
    if count > 1:  # a withheld header (no payload) travels too
        events[1] = dataclasses.replace(events[1], payload=None, withheld="superseded")
    batch = Batch("dev-1", "4401040001", CLOCK, tuple(events))
    raw = encode_batch(batch)
    assert raw == encode_batch(batch)  # the same batch gives the same bytes
    assert gzip.decompress(raw) == gzip.decompress(encode_body(batch.to_json()))
    assert decode_body(raw, "gzip", 10**7) == batch.to_json()
    assert BatchEnvelope.from_json(decode_body(raw, "gzip", 10**7)).events == list(events)


def test_split_batches_respects_count_and_bytes() -> None:
    events = chain().stays(30)
    by_count = list(split_batches(events, Limits(max_events=7)))
    assert [len(b) for b in by_count] == [7, 7, 7, 7, 2]
    size = len(json.dumps(events[0].to_json(), ensure_ascii=False).encode())
    limits = Limits(max_body_bytes=4096 + 3 * size + 10)
    by_bytes = list(split_batches(events, limits))
    assert [e for batch in by_bytes for e in batch] == events
    assert all(1 <= len(b) <= 3 for b in by_bytes)
    for batch in by_bytes:
        body = {"protocol": 1, "device_id": "dev-1", "site_code": "4401040001",
                "clock": CLOCK.to_json(), "events": [e.to_json() for e in batch]}
        assert len(encode_body(body)) <= limits.max_body_bytes
