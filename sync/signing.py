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

    headers:  X-Anju-Device, X-Anju-Timestamp, X-Anju-Nonce, X-Anju-Signature: v1=<signature>

The body is hashed as sent, so the server checks the signature before it inflates anything.
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
SERVER_TIME_HEADER = "X-Anju-Server-Time"  # on every answer: Unix seconds with decimals
SIGNATURE_PREFIX = "v1="
NONCE_RE = re.compile(r"^[0-9a-f]{32}$")
TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")


def new_secret() -> str:
    """A fresh per-device secret: 32 random bytes, base64url without padding."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")


def secret_key(secret: str) -> bytes:
    return base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))


def new_nonce() -> str:
    return secrets.token_hex(16)


def string_to_sign(method: str, path: str, timestamp: int, nonce: str, body: bytes) -> str:
    return "\n".join((SCHEME, method.upper(), path, str(timestamp), nonce,
                      hashlib.sha256(body).hexdigest()))


def signature(secret: str, method: str, path: str, timestamp: int, nonce: str,
              body: bytes) -> str:
    message = string_to_sign(method, path, timestamp, nonce, body).encode("utf-8")
    return hmac.new(secret_key(secret), message, hashlib.sha256).hexdigest()


def sign_headers(device_id: str, secret: str, method: str, path: str, body: bytes, *,
                 timestamp: int, nonce: str | None = None) -> dict[str, str]:
    """The four headers that authenticate one request."""
    nonce = nonce or new_nonce()
    return {
        DEVICE_HEADER: device_id,
        TIMESTAMP_HEADER: str(timestamp),
        NONCE_HEADER: nonce,
        SIGNATURE_HEADER: SIGNATURE_PREFIX + signature(secret, method, path, timestamp, nonce,
                                                       body),
    }


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """The authentication headers of a received request, syntactically checked."""

    device_id: str
    timestamp: int
    nonce: str
    signature: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> SignedRequest | None:
        """None when a header is missing or malformed (the server answers 401)."""
        device = headers.get(DEVICE_HEADER, "")
        stamp = headers.get(TIMESTAMP_HEADER, "")
        nonce = headers.get(NONCE_HEADER, "")
        sig = headers.get(SIGNATURE_HEADER, "")
        if not (0 < len(device) <= 64 and TIMESTAMP_RE.match(stamp) and NONCE_RE.match(nonce)
                and sig.startswith(SIGNATURE_PREFIX) and len(sig) == len(SIGNATURE_PREFIX) + 64):
            return None
        return cls(device, int(stamp), nonce, sig[len(SIGNATURE_PREFIX):])

    def verify(self, secret: str, method: str, path: str, body: bytes) -> bool:
        expected = signature(secret, method, path, self.timestamp, self.nonce, body)
        return hmac.compare_digest(expected, self.signature)
