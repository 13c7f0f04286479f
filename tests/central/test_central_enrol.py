"""Enrolment: a one-time token for a site becomes a device id and secret, exactly once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import requests

from central.clock import utc_now
from sync.errors import EnrolmentRefusedError
from tests.central.central_helpers import Admin, assert_error


def test_enrolment_gives_a_device_of_the_tokens_site(central: Admin) -> None:
    site = central.site(name="越秀宾馆")
    client = central.client()
    enrolment = client.enroll(central.token(site), str(uuid.uuid4()), "1.2.3")
    assert enrolment.site_code == site and enrolment.site_name == "越秀宾馆"
    assert enrolment.device_id.startswith(site) and len(enrolment.secret) >= 43
    assert enrolment.limits.max_events >= 1
    (device,) = central.rows("devices", device_id=enrolment.device_id)
    assert device["site_code"] == site and device["software_version"] == "1.2.3"
    # Only the token's hash is stored.
    (token,) = central.rows("enrol_tokens", device_id=enrolment.device_id)
    assert token["used_at"] and len(token["token_sha256"]) == 64


def test_used_token_is_refused_to_another_installation(central: Admin) -> None:
    token = central.token(central.site())
    central.client().enroll(token, str(uuid.uuid4()), "1")
    with pytest.raises(EnrolmentRefusedError) as refused:
        central.client().enroll(token, str(uuid.uuid4()), "1")
    assert (refused.value.status, refused.value.code) == (409, "token_used")
    assert not refused.value.maybe_delivered


def test_lost_answer_same_installation_gets_the_same_device_again(central: Admin) -> None:
    token, installation = central.token(central.site()), str(uuid.uuid4())
    first = central.client().enroll(token, installation, "1")
    again = central.client().enroll(token, installation, "1")
    assert (again.device_id, again.secret) == (first.device_id, first.secret)


def test_expired_token_is_refused(central: Admin) -> None:
    token = central.token(central.site(), ttl=timedelta(minutes=5),
                          now=utc_now() - timedelta(hours=1))
    with pytest.raises(EnrolmentRefusedError) as refused:
        central.client().enroll(token, str(uuid.uuid4()), "1")
    assert (refused.value.status, refused.value.code) == (410, "token_expired")


def test_unknown_token_is_refused(central: Admin) -> None:
    with pytest.raises(EnrolmentRefusedError) as refused:
        central.client().enroll("not-a-token-anyone-issued", str(uuid.uuid4()), "1")
    assert (refused.value.status, refused.value.code) == (401, "token_unknown")


def test_malformed_enrolment_request_is_a_400_in_the_error_shape(central: Admin) -> None:
    with requests.Session() as session:
        response = session.post(central.url + "/api/v1/enroll", json={"protocol": 1})
        error = assert_error(response, 400, "missing_field")
        assert error["field"] == "token"
        assert_error(session.post(central.url + "/api/v1/enroll", data=b"{not json"), 400,
                     "invalid_body")
        assert_error(session.post(central.url + "/api/v1/enroll",
                                  json={"protocol": 2, "token": "x"}), 400,
                     "unsupported_protocol")
