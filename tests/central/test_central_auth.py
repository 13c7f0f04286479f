"""Signed requests: bad signatures, unknown devices, replayed nonces, wrong sites, and a wrong
device clock that is corrected instead of locking the device out."""

from __future__ import annotations

import dataclasses
import time

import pytest
import requests

from sync import signing
from sync.body import encode_body
from sync.client import Credentials
from sync.errors import AuthenticationError, ForbiddenError
from sync.protocol import ACCEPTED, REJECTED
from tests.central.central_helpers import Admin, assert_error, batch_body, signed_post

EVENTS = "/api/v1/events"


def test_bad_signature_is_refused_and_nothing_stored(central: Admin) -> None:
    client, chain = central.device()
    assert client.credentials is not None
    client.credentials = dataclasses.replace(client.credentials, secret="A" * 43)
    with pytest.raises(AuthenticationError) as refused:
        client.send_events([chain.check_in()])
    assert (refused.value.status, refused.value.code) == (401, "bad_signature")
    assert not refused.value.maybe_delivered
    assert central.rows("events", device_id=chain.device_id) == []


def test_tampered_body_and_unknown_device_and_missing_headers(central: Admin) -> None:
    client, chain = central.device()
    assert client.credentials is not None
    creds = client.credentials
    body = batch_body(creds, [chain.check_in()])
    other = batch_body(creds, [chain.check_in()])
    gzip_json = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    with requests.Session() as session:
        # Signed for one body, sent with another: the body must hash to the signed value.
        signed_for_body = signing.sign_headers(creds.device_id, creds.secret, "POST", EVENTS,
                                               body, timestamp=int(time.time()))
        assert_error(session.post(central.url + EVENTS, data=other,
                                  headers={**gzip_json, **signed_for_body}),
                     401, "body_hash_mismatch")
        # A hash header that lies about the body: the signature no longer matches.
        lying = {**signing.sign_headers(creds.device_id, creds.secret, "POST", EVENTS, body,
                                        timestamp=int(time.time())),
                 signing.BODY_HASH_HEADER: signing.body_sha256(other)}
        assert_error(session.post(central.url + EVENTS, data=other,
                                  headers={**gzip_json, **lying}), 401, "bad_signature")
        stranger = Credentials("no-such-device", creds.site_code, creds.secret)
        assert_error(signed_post(session, central.url, stranger, EVENTS, body), 401,
                     "unknown_device")
        assert_error(session.post(central.url + EVENTS, data=body, headers=gzip_json), 401,
                     "missing_signature")
        # The older form (no body hash header) is refused unless the server accepts it.
        legacy = signing.sign_headers(creds.device_id, creds.secret, "POST", EVENTS, body,
                                      timestamp=int(time.time()))
        del legacy[signing.BODY_HASH_HEADER]
        assert_error(session.post(central.url + EVENTS, data=body,
                                  headers={**gzip_json, **legacy}), 401, "missing_body_hash")
        assert signed_post(session, central.url, creds, EVENTS, body).status_code == 200
    assert len(central.rows("events", device_id=chain.device_id)) == 1


def test_replayed_nonce_is_refused(central: Admin) -> None:
    client, chain = central.device()
    assert client.credentials is not None
    body = batch_body(client.credentials, [chain.check_in()])
    stamp = time.time()
    with requests.Session() as session:
        first = signed_post(session, central.url, client.credentials, EVENTS, body,
                            timestamp=stamp, nonce="ab" * 16)
        assert first.status_code == 200
        replay = signed_post(session, central.url, client.credentials, EVENTS, body,
                             timestamp=stamp, nonce="ab" * 16)
        assert_error(replay, 401, "replayed_nonce")
    assert len(central.rows("events", device_id=chain.device_id)) == 1


def test_device_cannot_write_for_another_site(central: Admin) -> None:
    client, chain = central.device()
    other_client, other_chain = central.device()
    assert client.credentials is not None and other_client.credentials is not None
    # The whole batch claims another site: 403, nothing stored.
    client.credentials = dataclasses.replace(client.credentials,
                                             site_code=other_client.credentials.site_code)
    with pytest.raises(ForbiddenError) as refused:
        client.send_events([chain.check_in()])
    assert (refused.value.status, refused.value.code) == (403, "wrong_site")
    with pytest.raises(ForbiddenError):
        client.heartbeat(software_version="1", backlog=0, oldest_queued_age_s=None,
                         reader_status="connected", disk_free_bytes=1)
    # Inside an honest batch, events of another site or device are rejected one by one.
    client.credentials = dataclasses.replace(client.credentials, site_code=chain.site_code)
    own = chain.check_in()
    foreign_site = dataclasses.replace(chain.check_in(), site_code=other_chain.site_code)
    foreign_device = other_chain.check_in()
    answer = client.send_events([own, foreign_site, foreign_device])
    assert [r.status for r in answer.results] == [ACCEPTED, REJECTED, REJECTED]
    assert [(r.code, r.field) for r in answer.results[1:]] == [
        ("wrong_site", "site_code"), ("wrong_device", "device_id")]
    assert central.rows("events", device_id=other_chain.device_id) == []


def test_skewed_device_clock_is_corrected_and_the_request_goes_through(central: Admin) -> None:
    skew = -7200.0  # the device's clock is two hours behind (a Pi after a power cut)
    client, chain = central.device(wall=lambda: time.time() + skew)
    assert client.skew_corrections == 0  # enrolment is unsigned: it only taught the offset
    client.offset = 0.0  # forget it, as a device restarting would
    answer = client.send_events([chain.check_in()])
    assert answer.results[0].status == ACCEPTED
    assert client.skew_corrections == 1
    assert abs(client.offset + skew) < 5
    assert abs(answer.clock_offset_ms + skew * 1000) < 5000  # measured from the raw clock
    (device,) = central.rows("devices", device_id=chain.device_id)
    assert abs(device["clock_offset_ms"] + skew * 1000) < 5000
    # Later requests are signed with the corrected clock: no second refusal.
    client.send_events([chain.check_in()])
    assert client.skew_corrections == 1


def test_clock_skew_answer_carries_the_server_time(central: Admin) -> None:
    client = central.enrolled()
    assert client.credentials is not None
    body = encode_body({"protocol": 1})
    with requests.Session() as session:
        response = signed_post(session, central.url, client.credentials, EVENTS, body,
                               timestamp=time.time() + 3600)
    error = assert_error(response, 401, "clock_skew")
    assert abs(error["server_timestamp"] - time.time()) < 5
    assert error["server_time"].endswith("Z") and error["window_s"] > 0
    assert abs(float(response.headers["X-Anju-Server-Time"]) - time.time()) < 5
