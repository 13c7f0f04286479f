"""Request signing, protocol v1: HMAC-SHA256 with the device's secret (docs/protocol.md).

    string to sign (UTF-8, lines joined by "\\n", no trailing newline):
        ANJU-HMAC-SHA256-V1
        POST                                    method, upper case
        /api/v1/events                          path, with "?query" when there is one
        1740794400                              X-Anju-Timestamp, Unix seconds (corrected clock)
        9f86d081884c7d659a2feaa0c55ad015        X-Anju-Nonce, 32 hex chars, never reused
        <hex SHA-256 of the body bytes as sent> (gzip bytes; e3b0c442… for an empty body)

    key       = base64url-decode(secret)           (the secret from enrolment)
    signature = hex(HMAC-SHA256(key, string to sign))

    headers:  X-Anju-Device, X-Anju-Timestamp, X-Anju-Nonce, X-Anju-Body-SHA256,
              X-Anju-Signature: v1=<signature>

The body is hashed as sent, and the hash also travels in X-Anju-Body-SHA256: the server checks
the signature (and device, clock, nonce) from the headers alone, before it reads a byte of the
body, then reads the body and checks that it hashes to the signed value. The string to sign is
the same with or without that header, so a server that predates it accepts these requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

SCHEME = "ANJU-HMAC-SHA256-V1"
DEVICE_HEADER = "X-Anju-Device"
TIMESTAMP_HEADER = "X-Anju-Timestamp"
NONCE_HEADER = "X-Anju-Nonce"
SIGNATURE_HEADER = "X-Anju-Signature"
BODY_HASH_HEADER = "X-Anju-Body-SHA256"  # hex SHA-256 of the body as sent
SERVER_TIME_HEADER = "X-Anju-Server-Time"  # on every answer: Unix seconds with decimals
SIGNATURE_PREFIX = "v1="
NONCE_RE = re.compile(r"^[0-9a-f]{32}$")
TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
SHA256_HEX_RE = re.compile(r"^[0-9a-f]{64}$")


def new_secret() -> str:
    """A fresh per-device secret: 32 random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def secret_key(secret: str) -> bytes:
    return base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))


def new_nonce() -> str:
    return secrets.token_hex(16)


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def string_to_sign(method: str, path: str, timestamp: int, nonce: str, body: bytes) -> str:
    return hashed_string_to_sign(method, path, timestamp, nonce, body_sha256(body))


def hashed_string_to_sign(method: str, path: str, timestamp: int, nonce: str,
                          body_hash: str) -> str:
    return "\n".join((SCHEME, method.upper(), path, str(timestamp), nonce, body_hash))


def signature(secret: str, method: str, path: str, timestamp: int, nonce: str,
              body: bytes) -> str:
    return hashed_signature(secret, method, path, timestamp, nonce, body_sha256(body))


def hashed_signature(secret: str, method: str, path: str, timestamp: int, nonce: str,
                     body_hash: str) -> str:
    message = hashed_string_to_sign(method, path, timestamp, nonce, body_hash).encode("utf-8")
    return hmac.new(secret_key(secret), message, hashlib.sha256).hexdigest()


def sign_headers(device_id: str, secret: str, method: str, path: str, body: bytes, *,
                 timestamp: int, nonce: str | None = None) -> dict[str, str]:
    """The five headers that authenticate one request."""
    nonce = nonce or new_nonce()
    digest = body_sha256(body)
    return {
        DEVICE_HEADER: device_id,
        TIMESTAMP_HEADER: str(timestamp),
        NONCE_HEADER: nonce,
        BODY_HASH_HEADER: digest,
        SIGNATURE_HEADER: SIGNATURE_PREFIX + hashed_signature(secret, method, path, timestamp,
                                                              nonce, digest),
    }


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The authentication headers of a received request, syntactically checked."""

    device_id: str
    timestamp: int
    nonce: str
    signature: str
    body_sha256: str | None = None  # None: a terminal from before X-Anju-Body-SHA256

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> SignedRequest | None:
        """None when a header is missing or malformed (the server answers 401). The body hash
        header may be absent (the older form), never malformed."""
        device = headers.get(DEVICE_HEADER, "")
        stamp = headers.get(TIMESTAMP_HEADER, "")
        nonce = headers.get(NONCE_HEADER, "")
        sig = headers.get(SIGNATURE_HEADER, "")
        digest = headers.get(BODY_HASH_HEADER)
        if not (0 < len(device) <= 64 and TIMESTAMP_RE.match(stamp) and NONCE_RE.match(nonce)
                and sig.startswith(SIGNATURE_PREFIX) and len(sig) == len(SIGNATURE_PREFIX) + 64
                and (digest is None or SHA256_HEX_RE.match(digest))):
            return None
        return cls(device, int(stamp), nonce, sig[len(SIGNATURE_PREFIX):], digest)

    def verify_headers(self, secret: str, method: str, path: str) -> bool:
        """The signature over the announced body hash: checkable before the body is read
        (then `body_matches` must hold for the body that arrives)."""
        if self.body_sha256 is None:
            raise ValueError("no body hash header: use verify() with the body")
        expected = hashed_signature(secret, method, path, self.timestamp, self.nonce,
                                    self.body_sha256)
        return hmac.compare_digest(expected, self.signature)

    def body_matches(self, body: bytes) -> bool:
        return self.body_sha256 is not None and hmac.compare_digest(body_sha256(body),
                                                                    self.body_sha256)

    def verify(self, secret: str, method: str, path: str, body: bytes) -> bool:
        """Signature and body together (either form: the announced hash must match too)."""
        if self.body_sha256 is not None and not self.body_matches(body):
            return False
        expected = signature(secret, method, path, self.timestamp, self.nonce, body)
        return hmac.compare_digest(expected, self.signature)
