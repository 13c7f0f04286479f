"""Sites, one-time enrolment tokens, and enrolment (token -> device id + per-device secret).

A token is issued for one site and expires; only its SHA-256 is stored, so a database dump
does not hand out enrolments. Enrolment uses the token up. If the answer is lost on the way,
the same installation (same `installation_id`) asking again with the same token gets the same
device back instead of a refusal; any other installation gets 409 token_used.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, insert, select, update

from central.clock import utc_now
from central.db.tables import devices, enrol_tokens, sites
from central.errors import AdminError, TokenError
from sync.fields import format_utc
from sync.messages import Enrolment, EnrolRequest
from sync.protocol import Limits
from sync.signing import new_secret

log = logging.getLogger(__name__)
SITE_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_TOKEN_TTL = timedelta(days=30)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_site(engine: Engine, code: str, name: str) -> None:
    if not SITE_CODE_RE.match(code):
        raise AdminError(f"site code {code!r}: 1-32 letters, digits, '-' or '_'")
    if not name.strip():
        raise AdminError("a site needs a name")
    with engine.begin() as conn:
        if conn.execute(select(sites.c.code).where(sites.c.code == code)).first():
            raise AdminError(f"site {code} exists already", code="site_exists")
        conn.execute(insert(sites).values(code=code, name=name.strip(),
                                          created_at=format_utc(utc_now())))


def issue_token(engine: Engine, site_code: str, ttl: timedelta,
                now: datetime | None = None) -> tuple[str, str]:
    """A new one-time token for `site_code`: (token, expires_at). Only its hash is kept."""
    if not timedelta(0) < ttl <= MAX_TOKEN_TTL:
        raise AdminError(f"token lifetime must be within 0..{MAX_TOKEN_TTL.days} days")
    now = now or utc_now()
    token = secrets.token_urlsafe(24)
    expires = format_utc(now + ttl)
    with engine.begin() as conn:
        if not conn.execute(select(sites.c.code).where(sites.c.code == site_code)).first():
            raise AdminError(f"unknown site {site_code}: add it with `anju central site add`",
                             code="unknown_site")
        conn.execute(insert(enrol_tokens).values(
            token_sha256=token_hash(token), site_code=site_code, issued_at=format_utc(now),
            expires_at=expires))
    return token, expires


def enrol(engine: Engine, request: EnrolRequest, limits: Limits) -> Enrolment:
    now = format_utc(utc_now())
    digest = token_hash(request.token)
    with engine.begin() as conn:
        token = conn.execute(select(enrol_tokens).where(enrol_tokens.c.token_sha256 == digest)
                             .with_for_update()).first()
        if token is None:
            raise TokenError("unknown enrolment token", code="token_unknown", status=401)
        site_name = conn.execute(select(sites.c.name)
                                 .where(sites.c.code == token.site_code)).scalar_one()
        if token.used_at is not None:
            if token.installation_id != request.installation_id:
                raise TokenError(f"enrolment token was used at {token.used_at}: ask for a new "
                                 "one", code="token_used", status=409)
            device = conn.execute(select(devices.c.device_id, devices.c.secret)
                                  .where(devices.c.device_id == token.device_id)).one()
            log.info("enrolment answer repeated for device %s", device.device_id)
            return Enrolment(device.device_id, token.site_code, site_name, device.secret, now,
                             limits)
        if token.expires_at < now:
            raise TokenError(f"enrolment token expired at {token.expires_at}: ask for a new one",
                             code="token_expired", status=410)
        device_id = _new_device_id(conn, token.site_code)
        secret = new_secret()
        conn.execute(insert(devices).values(
            device_id=device_id, site_code=token.site_code, secret=secret,
            installation_id=request.installation_id, enrolled_at=now, disabled=False,
            software_version=request.software_version, max_sequence=0, events_stored=0))
        conn.execute(update(enrol_tokens).where(enrol_tokens.c.token_sha256 == digest).values(
            used_at=now, device_id=device_id, installation_id=request.installation_id))
    log.info("device %s enrolled for site %s", device_id, token.site_code)
    return Enrolment(device_id, token.site_code, site_name, secret, now, limits)


def _new_device_id(conn: Connection, site_code: str) -> str:
    for _ in range(10):
        candidate = f"{site_code}-{secrets.token_hex(4)}"
        exists = conn.execute(
            select(devices.c.device_id).where(devices.c.device_id == candidate)).first()
        if not exists:
            return candidate
    raise RuntimeError("could not find a free device id")  # pragma: no cover
