"""Limits: 413 beyond the batch count or body size (also inflated), and load shedding that
answers 503 with Retry-After at once instead of queueing. A server with small limits and one
request in flight (SQLite: these do not depend on the backend)."""

from __future__ import annotations

import gzip
import json
import secrets
import socket
import time
from collections.abc import Iterator

import pytest
import requests

from sync import signing
from sync.body import split_batches
from sync.errors import ServerBusyError, TooLargeError
from sync.protocol import ACCEPTED
from tests.central.central_helpers import Admin, assert_error, fetch, signed_head, signed_post
from tests.sync.wire_helpers import guest


def test_too_many_events_is_413_with_the_limits(small: Admin) -> None:
    client, chain = small.device()
    with pytest.raises(TooLargeError) as refused:
        client.send_events(chain.stays(6))
    assert (refused.value.status, refused.value.code, refused.value.max_events) == (
        413, "too_many_events", 5)
    assert not refused.value.maybe_delivered
    assert small.rows("events", device_id=chain.device_id) == []


def test_body_too_large_is_413_before_anything_is_parsed(small: Admin) -> None:
    client, chain = small.device()
    big = [chain.check_in(guests=[guest(note=secrets.token_urlsafe(9000))]) for _ in range(3)]
    with pytest.raises(TooLargeError) as refused:
        client.send_events(big)
    assert (refused.value.code, refused.value.max_bytes) == ("body_too_large", None)
    assert refused.value.detail["max_body_bytes"] == 20000


def test_chunked_body_is_refused_once_the_limit_is_crossed(small: Admin) -> None:
    creds = small.enrolled().credentials
    assert creds is not None
    headers = signing.sign_headers(creds.device_id, creds.secret, "POST", "/api/v1/events",
                                   b"x" * 32000, timestamp=int(time.time()))
    with requests.Session() as session:
        chunks: Iterator[bytes] = iter([b"x" * 8000] * 4)
        response = session.post(small.url + "/api/v1/events", data=chunks, headers=headers)
        assert_error(response, 413, "body_too_large")


def test_a_gzip_bomb_is_refused_without_inflating_it(small: Admin) -> None:
    client = small.enrolled()
    assert client.credentials is not None
    bomb = gzip.compress(b" " * (9 * 1024 * 1024))
    assert len(bomb) < 20000
    with requests.Session() as session:
        response = signed_post(session, small.url, client.credentials, "/api/v1/events", bomb)
    assert_error(response, 413, "body_too_large")


def test_batches_sized_from_the_enrolment_limits_all_fit(small: Admin) -> None:
    client = small.client()
    enrolment = client.enroll(small.token(small.site()), secrets.token_hex(8), "1")
    from tests.sync.wire_helpers import EventChain

    chain = EventChain(enrolment.device_id, enrolment.site_code)
    events = [chain.check_in(guests=[guest(note=secrets.token_hex(1500))]) for _ in range(12)]
    batches = list(split_batches(events, enrolment.limits))
    assert len(batches) > 3
    for batch in batches:
        assert {r.status for r in client.send_events(batch).results} == {ACCEPTED}
    assert len(small.rows("events", device_id=chain.device_id)) == 12


def test_load_shedding_answers_503_with_retry_after_at_once(small: Admin) -> None:
    client = small.client()
    host, port = small.url.removeprefix("http://").split(":")
    creds = small.enrolled().credentials
    assert creds is not None
    with socket.create_connection((host, int(port))) as slow:
        # An authenticated request whose body never finishes arriving holds the only slot
        # (until the body deadline: 5 s here).
        slow.sendall(signed_head(creds, "/api/v1/events", b"x" * 1000) + b"{\"protocol\"")
        deadline = time.monotonic() + 5
        while fetch("GET", small.url + "/api/v1/time").status_code != 503:  # authenticated yet?
            assert time.monotonic() < deadline
            time.sleep(0.05)
        started = time.monotonic()
        with pytest.raises(ServerBusyError) as busy:
            client.server_time()
        assert time.monotonic() - started < 2  # refused at once, not queued
        assert busy.value.status == 503 and busy.value.code == "overloaded"
        assert 3 <= busy.value.retry_after <= 6 and not busy.value.maybe_delivered  # type: ignore[operator]
        response = fetch("GET", small.url + "/api/v1/time")
        error = assert_error(response, 503, "overloaded")
        assert response.headers["Retry-After"] == str(error["retry_after_s"])
    deadline = time.monotonic() + 5
    while True:  # the slot frees once the slow client is gone
        try:
            client.server_time()
            break
        except ServerBusyError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_openapi_document_lists_the_protocol(small: Admin) -> None:
    with requests.Session() as session:
        document = session.get(small.url + "/openapi.json").json()
    assert set(document["paths"]) == {"/api/v1/time", "/api/v1/enroll", "/api/v1/events",
                                      "/api/v1/heartbeat", "/api/v1/search", "/api/v1/feed",
                                      "/api/v1/stay/{stay_id}", "/api/v1/handover",
                                      "/api/v1/decommission"}
    schemas = document["components"]["schemas"]
    assert {"Batch", "WireEvent", "BatchAnswer", "EventResult", "Heartbeat", "DayReport",
            "Enrolment", "EnrolRequest", "ServerTime", "Error", "Handover", "Decommission",
            "Decommissioned"} <= set(schemas)
    assert schemas["WireEvent"]["properties"]["event_id"]["pattern"].startswith("^[0-9a-f]")
    events = document["paths"]["/api/v1/events"]["post"]
    assert events["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Batch"}
    assert {"200", "401", "413", "503"} <= set(events["responses"])
    json.dumps(document)
