"""One error shape everywhere: every refusal, ours or the framework's, is
{"error": {"code", "message", ...}} with its status, asserted by one helper."""

from __future__ import annotations

import gzip
import json

import pytest
import requests

from sync.body import encode_body
from tests.central.central_helpers import Admin, assert_error, fetch, signed_post


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), [
    ("GET", "/no/such/page", {}, 404, "not_found"),
    ("GET", "/api/v1/events", {}, 405, "method_not_allowed"),
    ("POST", "/api/v1/events", {"data": b"{}"}, 401, "missing_signature"),
    ("POST", "/api/v1/heartbeat", {"data": b"{}"}, 401, "missing_signature"),
    ("POST", "/api/v1/enroll", {"data": b"\xff\xfe"}, 400, "invalid_body"),
    ("POST", "/api/v1/enroll", {"data": b"[]"}, 400, "invalid_field"),
    ("POST", "/api/v1/enroll", {"data": b"{}", "headers": {"Content-Encoding": "br"}}, 400,
     "unsupported_encoding"),
    ("POST", "/api/v1/enroll", {"data": gzip.compress(b'{"a": 1}')[:-6],
                                "headers": {"Content-Encoding": "gzip"}}, 400, "invalid_body"),
    ("POST", "/api/v1/enroll", {"data": b"x" * 70_000}, 413, "body_too_large"),
])
def test_unsigned_refusals(central: Admin, method: str, path: str, kwargs: dict[str, object],
                           status: int, code: str) -> None:
    assert_error(fetch(method, central.url + path, **kwargs), status, code)


def test_signed_refusals(central: Admin) -> None:
    client = central.enrolled()
    creds = client.credentials
    assert creds is not None
    cases = [
        ("/api/v1/heartbeat", encode_body({"protocol": 1}), 400, "missing_field"),
        ("/api/v1/events", encode_body({"protocol": 2}), 400, "unsupported_protocol"),
        ("/api/v1/events", encode_body({"protocol": 1, "events": {}}), 400, "invalid_field"),
        ("/api/v1/events", b"not gzip", 400, "invalid_body"),
    ]
    for path, body, status, code in cases:
        with requests.Session() as session:
            error = assert_error(signed_post(session, central.url, creds, path, body), status,
                                 code)
        json.dumps(error)
