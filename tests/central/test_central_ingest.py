"""Ingest: idempotent under duplicated and reordered batches; one bad event never blocks the
others; gaps and chain breaks are recorded (device, sequence range), never refused."""

from __future__ import annotations

import dataclasses
import json
import random
from concurrent.futures import ThreadPoolExecutor

import requests

from sync.body import encode_body
from sync.chain import chain_hash, sha256_hex
from sync.protocol import ACCEPTED, DUPLICATE, REJECTED, SenderClock
from tests.central.central_helpers import Admin, signed_post
from tests.sync.wire_helpers import EventChain, with_payload


def test_duplicated_batch_is_stored_once_with_the_same_receipts(central: Admin) -> None:
    client, chain = central.device()
    events = chain.stays(5)
    first = client.send_events(events)
    assert [r.status for r in first.results] == [ACCEPTED] * 5
    again = client.send_events(events + events[:2])  # and duplicated inside one batch
    assert [r.status for r in again.results] == [DUPLICATE] * 7
    receipts = [r.receipt for r in first.results]
    assert [r.receipt for r in again.results] == receipts + receipts[:2]
    assert len({r.receipt for r in first.results}) == 5
    assert len(central.rows("events", device_id=chain.device_id)) == 5
    (device,) = central.rows("devices", device_id=chain.device_id)
    assert (device["events_stored"], device["max_sequence"]) == (5, 5)
    assert central.faults(chain.device_id) == []


def test_reordered_batches_open_a_gap_then_close_it(central: Admin) -> None:
    client, chain = central.device()
    events = chain.stays(6)
    client.send_events(events[3:])
    assert central.faults(chain.device_id, open_only=True) == [("gap", 1, 3)]
    shuffled = events[:3]
    random.Random(4).shuffle(shuffled)
    answer = client.send_events(shuffled)
    assert [r.status for r in answer.results] == [ACCEPTED] * 3
    assert central.faults(chain.device_id, open_only=True) == []
    (gap,) = central.rows("chain_faults", device_id=chain.device_id)  # history kept
    assert gap["resolved_at"] is not None and gap["kind"] == "gap"
    assert len(central.rows("events", device_id=chain.device_id)) == 6


def test_a_partly_filled_gap_leaves_its_remainders_open(central: Admin) -> None:
    client, chain = central.device()
    events = chain.stays(5)
    client.send_events([events[0], events[4]])
    client.send_events([events[2]])
    assert central.faults(chain.device_id, open_only=True) == [("gap", 2, 2), ("gap", 4, 4)]
    rows = central.rows("chain_faults", device_id=chain.device_id)
    assert len({r["detected_at"] for r in rows}) == 1  # remainders keep the first detection
    client.send_events([events[1], events[3]])
    assert central.faults(chain.device_id, open_only=True) == []


def test_rejected_events_never_block_the_ones_behind(central: Admin) -> None:
    client, chain = central.device()
    good, bad, later = chain.stays(3)
    assert bad.payload is not None
    altered = with_payload(bad, bad.payload.replace("王1", "李1"), rehash=False)
    answer = client.send_events([good, altered, later])
    assert [r.status for r in answer.results] == [ACCEPTED, REJECTED, ACCEPTED]
    rejected = answer.results[1]
    assert (rejected.code, rejected.field, rejected.receipt) == (
        "payload_hash_mismatch", "payload_sha256", None)
    assert central.faults(chain.device_id) == [("gap", 2, 2)]  # the police side sees the hole


def test_an_id_reused_with_a_different_hash_is_rejected(central: Admin) -> None:
    client, chain = central.device()
    (event,) = chain.stays(1)
    client.send_events([event])
    assert event.payload is not None
    forged = with_payload(event, event.payload.replace('"100"', '"999"'), rehash=True)
    (result,) = client.send_events([forged]).results
    assert (result.status, result.code, result.field) == (REJECTED, "id_conflict", "event_id")
    (row,) = central.rows("events", event_id=event.event_id)
    assert row["payload_sha256"] == event.payload_sha256


def test_malformed_events_are_rejected_with_their_field(central: Admin) -> None:
    client, chain = central.device()
    a, b, c = chain.stays(3)
    # Header and payload disagree (the header was edited after hashing).
    edited = dataclasses.replace(a, wall_time="2030-01-01T00:00:00.000000Z")
    # A payload that is not an event object but hashes correctly.
    not_event = with_payload(b, json.dumps([1, 2]), rehash=True)
    answer = client.send_events([edited, not_event, c])
    assert [(r.status, r.code, r.field) for r in answer.results] == [
        (REJECTED, "header_mismatch", "wall_time"), (REJECTED, "invalid_payload", "payload"),
        (ACCEPTED, None, None)]


def test_schema_violations_are_rejected_per_event(central: Admin) -> None:
    client, chain = central.device()
    assert client.credentials is not None
    good = chain.check_in()
    raw = [good.to_json(), {**good.to_json(), "event_id": "x"},
           {k: v for k, v in chain.check_in().to_json().items() if k != "operator"}, 7,
           {**chain.check_in().to_json(), "sequence": True}]
    body = {"protocol": 1, "device_id": chain.device_id, "site_code": chain.site_code,
            "clock": SenderClock.system().to_json(), "events": raw}
    with requests.Session() as session:
        response = signed_post(session, central.url, client.credentials, "/api/v1/events",
                               encode_body(body))
    results = response.json()["results"]
    assert [(r["status"], r.get("code"), r.get("field")) for r in results] == [
        ("accepted", None, None), ("rejected", "invalid_event", "event_id"),
        ("rejected", "missing_field", "operator"), ("rejected", "invalid_event", "events[3]"),
        ("rejected", "invalid_event", "sequence")]
    assert results[1]["event_id"] == "x" and results[3]["event_id"] is None


def test_chain_breaks_hash_faults_and_forks_are_recorded_and_stored(central: Admin) -> None:
    client, chain = central.device()
    e1, e2, e3, e4 = chain.stays(4)
    # e3 claims a predecessor that is not e2 (something was altered or deleted on the device);
    # its own chain hash is consistent with that claim. e4 is chained to the original e3.
    bogus = sha256_hex("something else")
    e3 = dataclasses.replace(e3, prev_chain_sha256=bogus,
                             chain_sha256=chain_hash(3, bogus, e3.payload_sha256))
    e5 = dataclasses.replace(chain.check_in(), chain_sha256="f" * 64)  # inconsistent itself
    answer = client.send_events([e1, e2, e3, e4, e5])
    assert {r.status for r in answer.results} == {ACCEPTED}
    assert central.faults(chain.device_id) == [("hash", 5, 5), ("link", 2, 3), ("link", 3, 4)]
    # Another history for the same device (a restored backup): a fork at sequence 1.
    other = EventChain(chain.device_id, chain.site_code)
    (fork,) = other.stays(1)
    assert client.send_events([fork]).results[0].status == ACCEPTED
    assert ("fork", 1, 1) in central.faults(chain.device_id)
    assert len(central.rows("events", device_id=chain.device_id)) == 6


def test_withheld_event_keeps_the_chain_verifiable(central: Admin) -> None:
    client, chain = central.device()
    e1, e2, e3 = chain.stays(3)
    withheld = dataclasses.replace(e2, payload=None, withheld="superseded")
    answer = client.send_events([e1, withheld, e3])
    assert [r.status for r in answer.results] == [ACCEPTED] * 3
    assert central.faults(chain.device_id) == []
    (row,) = central.rows("events", event_id=e2.event_id)
    assert row["payload"] is None and row["withheld"] == "superseded"


def test_the_same_batch_sent_twice_at_once_is_stored_once(central: Admin) -> None:
    # A retry racing the first attempt (its answer was lost, the request still running).
    client, chain = central.device()
    twin = central.client(credentials=client.credentials)
    events = chain.stays(40)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda c: c.send_events(events), [client, twin]))
    for first, second in zip(answers[0].results, answers[1].results, strict=True):
        assert {first.status, second.status} == {ACCEPTED, DUPLICATE}
        assert first.receipt == second.receipt
    assert len(central.rows("events", device_id=chain.device_id)) == 40
    assert central.faults(chain.device_id) == []
