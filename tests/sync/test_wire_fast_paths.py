"""The fast paths of the server's event checks decide exactly as the slow ones they skip.

WireEvent.from_json first tries one pass of plain tests (sync/protocol.py `_plainly_valid`)
and storable.check skips the walk of json_problem for a plain payload text
(central/devices/storable.py `_plain`). Neither may accept what the field-by-field reading or
the walk refuses, and what they accept must be the same event: here every field is bent in the
ways a sender can bend it, and hypothesis builds payloads with escapes, controls and depth.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central.devices import storable
from sync.chain import canonical_json
from sync.errors import InvalidEventError
from sync.fields import MAX_JSON_DEPTH, json_problem
from sync.protocol import DEFAULT_LIMITS, HEADER_FIELDS, Limits, WireEvent, _plainly_valid
from tests.sync.wire_helpers import EventChain, guest

UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"
ODD_TEXTS = ["", " ", "a\n", "a\x00", "a\x7f", "a\x85", "a\u2028", "a\ud800", "\u3000",
             "Ａ", "x" * 65, UUID.upper(), UUID + "\n", "٢٠٢٥-03-01T02:00:00.000000Z"]
ODD_VALUES: list[Any] = [None, True, False, 0, 1, -1, 2**62, 2**62 + 1, 2**63 - 1, 2**63, 1.0,
                         [], {}, *ODD_TEXTS]


def _doc() -> dict[str, Any]:
    event = EventChain("dev-1", "4401040001").check_in(guests=[guest(photo_wlt_b64="QUJD")])
    return json.loads(json.dumps(event.to_json()))


def _slow(doc: Any, limits: Limits = DEFAULT_LIMITS) -> WireEvent | InvalidEventError:
    try:
        return WireEvent._read(doc, "", limits)
    except InvalidEventError as err:
        return err


def _same_decision(doc: Any, limits: Limits = DEFAULT_LIMITS) -> None:
    fast = _plainly_valid(doc, limits)
    slow = _slow(doc, limits)
    if fast is not None:
        assert fast == slow  # accepted only what the reading accepts, as the same event
    public = WireEvent.from_json(doc, "", limits) if isinstance(slow, WireEvent) else None
    assert public == (slow if isinstance(slow, WireEvent) else None)


def test_a_plain_event_takes_the_fast_path() -> None:
    doc = _doc()
    assert _plainly_valid(doc, DEFAULT_LIMITS) == _slow(doc)


@pytest.mark.parametrize("name", [*HEADER_FIELDS, "payload", "withheld", "payload_sha256",
                                  "prev_chain_sha256", "chain_sha256"])
def test_every_field_bent_every_way_is_decided_alike(name: str) -> None:
    for value in [*ODD_VALUES, "purged", "superseded", "amend", "void", "2025-03-01T02:00:00Z",
                  "2025-02-30T02:00:00.000000Z", "2025-03-01T02:00:00.000000Z", UUID, "0" * 64,
                  "f" * 63]:
        doc = _doc()
        doc[name] = value
        _same_decision(doc)
        del doc[name]
        _same_decision(doc)


def test_kinds_targets_and_withheld_events_are_decided_alike() -> None:
    for kind in ("check_in", "amend", "void", "check_out_undone", "check_out"):
        for target in (None, UUID, "", UUID.upper()):
            for payload, withheld in ((None, "purged"), (None, None), ("{}", "purged"),
                                      ("{}", None), (None, "other")):
                doc = {**_doc(), "kind": kind, "target_event_id": target, "payload": payload,
                       "withheld": withheld}
                _same_decision(doc)
    for not_an_object in (None, [], "x", 1):
        _same_decision(not_an_object)


def test_payload_size_at_the_limits_is_decided_alike() -> None:
    limits = Limits(max_event_bytes=400)
    for text in ("x" * 100, "x" * 400, "x" * 401, "字" * 100, "字" * 134, "字" * 133,
                 "😀" * 100, "😀" * 101, "x" * 1601):
        _same_decision({**_doc(), "payload": text}, limits)


def _plain_agrees(data: Any) -> None:
    payload = canonical_json({"event_id": UUID, "data": data})
    if storable._plain(payload):
        assert json_problem(json.loads(payload)["data"]) is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_a_plain_payload_text_has_nothing_for_the_walk_to_find(data: Any) -> None:
    _plain_agrees({"x": data})


def test_escapes_controls_and_depth_send_a_payload_the_long_way() -> None:
    for text in ("\x00", "\n", "\x7f", "\x85", "\ud800", '"', "\\", "\u2028"):
        _plain_agrees({"name": text})
        _plain_agrees({text: 1})
    nested: Any = "leaf"
    for depth in range(MAX_JSON_DEPTH + 3):
        nested = [nested] if depth % 2 else {"k": nested}
        _plain_agrees(nested)
    escaped = canonical_json({"event_id": UUID, "data": {"note": "a\u0001b"}})
    assert "\\u0001" in escaped and not storable._plain(escaped)


def test_storable_check_still_refuses_what_the_walk_finds() -> None:
    chain = EventChain("dev-1", "4401040001")
    event = chain.check_in(guests=[guest(name="王\u0001")])
    with pytest.raises(InvalidEventError) as refused:
        storable.check(event, event.check_payload())
    assert refused.value.code == "invalid_text"
    assert refused.value.field == "payload.data.guests[0].name"
