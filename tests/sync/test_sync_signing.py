"""Request signing: the worked example of docs/protocol.md, and that every signed part counts."""

from __future__ import annotations

import base64
import hashlib

import pytest

from sync import signing

SECRET = base64.urlsafe_b64encode(bytes(range(32))).rstrip(b"=").decode()
NONCE = "000102030405060708090a0b0c0d0e0f"
BODY = b'{"protocol":1}'
EXPECTED = "edb26e81cbfbe735e0192cfe640aa5ff6c6bf6266f8e6de45eff56b3e4c43418"
BODY_HASH = "6d76d6a408f17555266c5a2f6d163bf5188aeb7e60f114d5883ebe3946f75bb8"


def test_worked_example_from_the_protocol_document() -> None:
    assert SECRET == "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
    assert signing.string_to_sign("post", "/api/v1/heartbeat", 1740794400, NONCE, BODY) == (
        "ANJU-HMAC-SHA256-V1\nPOST\n/api/v1/heartbeat\n1740794400\n" + NONCE + "\n"
        "6d76d6a408f17555266c5a2f6d163bf5188aeb7e60f114d5883ebe3946f75bb8")
    # Also computed with: printf '<string to sign>' | openssl dgst -sha256 -mac HMAC
    #   -macopt hexkey:000102...1f
    assert signing.signature(SECRET, "POST", "/api/v1/heartbeat", 1740794400, NONCE,
                             BODY) == EXPECTED
    headers = signing.sign_headers("dev-1", SECRET, "POST", "/api/v1/heartbeat", BODY,
                                   timestamp=1740794400, nonce=NONCE)
    assert headers == {"X-Anju-Device": "dev-1", "X-Anju-Timestamp": "1740794400",
                       "X-Anju-Nonce": NONCE, "X-Anju-Body-SHA256": BODY_HASH,
                       "X-Anju-Signature": "v1=" + EXPECTED}
    signed = signing.SignedRequest.from_headers(headers)
    assert signed is not None and signed.verify(SECRET, "POST", "/api/v1/heartbeat", BODY)
    # The server's order: the headers alone, then the body against the announced hash.
    assert signed.verify_headers(SECRET, "POST", "/api/v1/heartbeat")
    assert signed.body_matches(BODY) and not signed.body_matches(BODY + b" ")


def test_the_older_form_without_the_body_hash_header_signs_the_same() -> None:
    headers = signing.sign_headers("dev-1", SECRET, "POST", "/api/v1/heartbeat", BODY,
                                   timestamp=1740794400, nonce=NONCE)
    del headers["X-Anju-Body-SHA256"]
    signed = signing.SignedRequest.from_headers(headers)
    assert signed is not None and signed.body_sha256 is None
    assert signed.verify(SECRET, "POST", "/api/v1/heartbeat", BODY)
    assert not signed.body_matches(BODY)  # nothing announced: nothing to check before reading
    with pytest.raises(ValueError):
        signed.verify_headers(SECRET, "POST", "/api/v1/heartbeat")


def test_a_body_hash_header_that_lies_fails_both_checks() -> None:
    other = hashlib.sha256(b"something else").hexdigest()
    headers = signing.sign_headers("dev-1", SECRET, "POST", "/api/v1/heartbeat", BODY,
                                   timestamp=1740794400, nonce=NONCE)
    signed = signing.SignedRequest.from_headers({**headers, "X-Anju-Body-SHA256": other})
    assert signed is not None
    assert not signed.verify_headers(SECRET, "POST", "/api/v1/heartbeat")
    assert not signed.verify(SECRET, "POST", "/api/v1/heartbeat", BODY)


@pytest.mark.parametrize("change", [
    {"method": "PUT"}, {"path": "/api/v1/events"}, {"body": BODY + b" "},
    {"secret": signing.new_secret()},
])
def test_any_changed_part_fails_verification(change: dict[str, object]) -> None:
    headers = signing.sign_headers("dev-1", SECRET, "POST", "/api/v1/heartbeat", BODY,
                                   timestamp=1740794400, nonce=NONCE)
    signed = signing.SignedRequest.from_headers(headers)
    assert signed is not None
    args = {"secret": SECRET, "method": "POST", "path": "/api/v1/heartbeat", "body": BODY,
            **change}
    assert not signed.verify(**args)  # type: ignore[arg-type]
    if "body" not in change:
        del args["body"]
        assert not signed.verify_headers(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize("broken", [
    {"X-Anju-Device": ""}, {"X-Anju-Timestamp": "12.5"}, {"X-Anju-Timestamp": "-1"},
    {"X-Anju-Nonce": "short"}, {"X-Anju-Nonce": NONCE.upper()},
    {"X-Anju-Signature": EXPECTED}, {"X-Anju-Signature": "v1=" + EXPECTED[:-1]},
    {"X-Anju-Body-SHA256": ""}, {"X-Anju-Body-SHA256": EXPECTED.upper()},
    {"X-Anju-Body-SHA256": EXPECTED[:-1]},
])
def test_malformed_headers_are_not_a_signed_request(broken: dict[str, str]) -> None:
    headers = signing.sign_headers("dev-1", SECRET, "POST", "/", b"", timestamp=1, nonce=NONCE)
    assert signing.SignedRequest.from_headers({**headers, **broken}) is None


def test_secrets_and_nonces_are_fresh() -> None:
    assert len(signing.secret_key(signing.new_secret())) == 32
    assert len({signing.new_nonce() for _ in range(100)}) == 100
