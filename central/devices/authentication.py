"""Device authentication of signed requests (sync/signing.py has the recipe).

`authenticate_headers` decides from the headers alone, before the body is read (the signature
covers the body's SHA-256, announced in X-Anju-Body-SHA256); the caller then reads the body and
checks it against that hash (401 body_hash_mismatch). `authenticate` is the older form, body in
hand, for terminals that do not send the hash header (only with `accept_legacy_signing`).

Checks, in this order, each with its own 401 code so a technician can tell them apart:

    headers present and well formed      missing_signature
    body hash announced                  missing_body_hash (unless legacy signing is accepted)
    device known                         unknown_device
    HMAC over method, path, timestamp,   bad_signature
      nonce and body SHA-256 matches
    |server time - timestamp| <= window  clock_skew  (answer carries the server's time, so
                                                      the client corrects its offset, re-signs)
    nonce not seen in the window         replayed_nonce (kept in the database until it expires)
    device not disabled                  403 device_disabled

The signature is checked before the clock, so only a device holding its secret learns that its
clock is off; the nonce is recorded last, so a refused request does not burn it.

A known device refused with bad_signature or clock_skew is remembered on its row (`refused_at`,
`refused_code`, `refused_first_at`; at most one write per device per REFUSAL_WRITE_INTERVAL_S):
such a terminal cannot send a heartbeat, and the fleet page shows the refusal beside "not heard
from since" (a clock_skew the terminal then corrects is followed by an accepted request, and
the page shows a refusal only when it is newer than the device's last accepted request).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, bindparam, case, delete, func, or_, select, update

from central.db.driver import Statement
from central.db.tables import devices, nonces
from central.db.upsert import insert_ignore
from central.errors import AuthError, ClockSkewError, ForbiddenError
from central.logsafe import safe
from central.settings import Settings
from sync.fields import format_utc
from sync.signing import BODY_HASH_HEADER, SignedRequest

log = logging.getLogger(__name__)
NONCE_PURGE_INTERVAL_S = 60.0
REFUSAL_WRITE_INTERVAL_S = 60.0
_DEVICE = Statement(select(devices.c.site_code, devices.c.secret, devices.c.disabled)
                    .where(devices.c.device_id == bindparam("device_id")))


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    site_code: str
    disabled: bool


class Authenticator:
    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.window_s = settings.timestamp_window_s
        self.accept_legacy = settings.accept_legacy_signing
        self._next_purge = 0.0
        self._refusal_written: dict[str, float] = {}  # device -> monotonic time of last write

    def legacy_form(self, headers: Mapping[str, str]) -> bool:
        """True when this request must be read before it can be authenticated: well-formed
        signature headers without the body hash header, and the server accepts that older
        form. (Unsigned requests are refused at once whatever the setting.)"""
        return (self.accept_legacy and BODY_HASH_HEADER not in headers
                and SignedRequest.from_headers(headers) is not None)

    def authenticate_headers(self, method: str, path: str, headers: Mapping[str, str],
                             now: float) -> tuple[Device, SignedRequest]:
        """Everything but the body: the caller must then check `signed.body_matches(body)`."""
        signed = _parse(headers)
        if signed.body_sha256 is None:
            raise AuthError(f"{BODY_HASH_HEADER} is required (the hex SHA-256 of the body as "
                            "sent): update the terminal software, or start the server with "
                            "--accept-legacy-signing while the fleet is updated",
                            code="missing_body_hash")
        device = self._check(signed, lambda secret: signed.verify_headers(secret, method, path),
                             method, path, now)
        return device, signed

    def authenticate(self, method: str, path: str, headers: Mapping[str, str], body: bytes,
                     now: float) -> Device:
        """Signature and body together (the older form, or a body already in hand)."""
        signed = _parse(headers)
        return self._check(signed, lambda secret: signed.verify(secret, method, path, body),
                           method, path, now)

    def _check(self, signed: SignedRequest, verify: Callable[[str], bool], method: str,
               path: str, now: float) -> Device:
        # One connection reads the device and records the nonce (a checkout and a transaction
        # per request, not two: issue 19); refusals are written after it is returned.
        refused: str | None = None
        fresh = False
        with self.engine.connect() as conn:
            found = _DEVICE.rows(conn, {"device_id": signed.device_id})
            row = found[0] if found else None
            if row is None:
                raise AuthError(f"unknown device {signed.device_id!r}: enrol it first",
                                code="unknown_device")
            if not verify(row.secret):
                refused = "bad_signature"
            elif abs(now - signed.timestamp) > self.window_s:
                refused = "clock_skew"
            else:
                fresh = self._remember_nonce(conn, signed, now)
                conn.commit()
        if refused == "bad_signature":
            log.warning("bad signature from device %s on %s %s", safe(signed.device_id),
                        safe(method), safe(path))
            self._remember_refusal(signed.device_id, refused, now)
            raise AuthError("signature does not match", code="bad_signature")
        if refused == "clock_skew":
            self._remember_refusal(signed.device_id, refused, now)
            raise ClockSkewError(
                f"request timestamp is {signed.timestamp - now:+.0f} s from the server's clock "
                f"(window ±{self.window_s} s): correct the clock offset and sign again",
                server_time=format_utc(datetime.fromtimestamp(now, UTC)),
                server_timestamp=now, window_s=self.window_s)
        if not fresh:
            log.warning("replayed nonce from device %s", safe(signed.device_id))
            raise AuthError("nonce already used: sign every request with a new nonce",
                            code="replayed_nonce")
        if row.disabled:
            raise ForbiddenError(f"device {signed.device_id} is disabled", code="device_disabled")
        return Device(signed.device_id, row.site_code, bool(row.disabled))

    def _remember_refusal(self, device_id: str, code: str, now: float) -> None:
        """Keep the refusal on the device's row for the fleet page (a known device only, and
        at most once a minute each: an attacker who knows a device id writes no more)."""
        tick = time.monotonic()
        last = self._refusal_written.get(device_id)
        if last is not None and tick - last < REFUSAL_WRITE_INTERVAL_S:
            return
        self._refusal_written[device_id] = tick
        at = format_utc(datetime.fromtimestamp(now, UTC))
        # A refusal after the device was last heard from starts a new spell of refusals.
        fresh = or_(devices.c.refused_first_at.is_(None),
                    devices.c.refused_first_at < func.coalesce(devices.c.last_seen_at, ""))
        with self.engine.begin() as conn:
            conn.execute(update(devices).where(devices.c.device_id == device_id).values(
                refused_at=at, refused_code=code,
                refused_first_at=case((fresh, at), else_=devices.c.refused_first_at)))

    def _remember_nonce(self, conn: Connection, signed: SignedRequest, now: float) -> bool:
        """Record the nonce in `conn`'s transaction; False when it was recorded already."""
        # A nonce must stay unique while its timestamp is inside the window; after that the
        # timestamp check refuses a replay anyway.
        fresh = insert_ignore(conn, nonces, {"device_id": signed.device_id,
                                             "nonce": signed.nonce,
                                             "expires_at": now + 2 * self.window_s})
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + NONCE_PURGE_INTERVAL_S
            conn.execute(delete(nonces).where(nonces.c.expires_at < now))
        return fresh


def _parse(headers: Mapping[str, str]) -> SignedRequest:
    signed = SignedRequest.from_headers(headers)
    if signed is None:
        raise AuthError("X-Anju-Device, X-Anju-Timestamp, X-Anju-Nonce and X-Anju-Signature "
                        f"are required, and they and {BODY_HASH_HEADER} must be well formed",
                        code="missing_signature")
    return signed
