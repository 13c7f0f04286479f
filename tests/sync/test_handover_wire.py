"""sync/handover.py: the hand-over file's parts are signed by the old device, and only by it."""

from __future__ import annotations

import json

import pytest

from sync.errors import ProtocolError
from sync.handover import Part, bundle, parts
from sync.signing import new_secret

EVENTS = [
    {"event_id": "e1", "sequence": 1, "payload": '{"name": "张三"}'},
    {"event_id": "e2", "sequence": 2, "payload": None, "withheld": "superseded"},
]


def test_each_part_verifies_with_the_old_secret_only() -> None:
    secret = new_secret()
    doc = json.loads(
        json.dumps(bundle("gz-1", "4401", secret, "2025-03-01T02:00:00Z", [EVENTS[:1], EVENTS[1:]]))
    )  # as read back from disk
    found = parts(doc)
    assert [len(p.events) for p in found] == [1, 1]
    assert all(p.verify(secret) for p in found)
    assert not found[0].verify(new_secret())
    assert secret not in json.dumps(doc)


@pytest.mark.parametrize("change", ["payload", "device", "site", "order"])
def test_any_change_breaks_the_signature(change: str) -> None:
    secret = new_secret()
    [raw] = bundle("gz-1", "4401", secret, "t", [EVENTS])["parts"]
    part = Part.from_json(
        {"format": "anju-handover/1", "device_id": "gz-1", "site_code": "4401", **raw}
    )
    events = [dict(e) for e in part.events]
    device, site = part.device_id, part.site_code
    if change == "payload":
        events[0]["payload"] = '{"name": "李四"}'
    elif change == "device":
        device = "gz-2"
    elif change == "site":
        site = "4402"
    else:
        events.reverse()
    assert not Part(device, site, tuple(events), part.signature).verify(secret)


def test_a_file_that_is_not_a_hand_over_is_refused() -> None:
    with pytest.raises(ProtocolError):
        parts({"format": "something/1", "parts": []})
    with pytest.raises(ProtocolError):
        Part.from_json({"format": "anju-handover/1", "device_id": "gz-1", "events": "no"})
