"""Police accounts: users with roles, argon2 passwords, browser sessions and API tokens.

    role            rank  may                                            personal data
    technician      1     fleet and devices                              no
    officer         1     search, view, co-stay, export, fleet           yes
    supervisor      2     officer's + audit log + officers/technicians   yes
    administrator   3     everything + password resets and API tokens    yes
    operator        4     the CLI (database access): any account act      -

Secrets are shown once and stored as hashes only: passwords as argon2id, session cookies and API
tokens as SHA-256 (they are 256-bit random values, so a fast hash is enough and lookups stay
indexed). A session expires after `IDLE_S` without a request and `ABSOLUTE_S` after login. An API
token acts with its user's current role, so disabling the user or changing the role takes effect at
once; it is refused after its `expires_at` or once revoked (central/accounts/api_tokens.py).
Password logins are throttled per username and client address (central/accounts/login_throttle.py).
Who may manage whom (ranks, districts), and the audit of every account act:
central/accounts/admin.py.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import ColumnElement, Connection, Engine, delete, func, insert, select, update

from central.accounts.login_throttle import LoginThrottle, ThrottledError
from central.clock import utc_now
from central.db.tables import api_tokens, site_districts, sites, user_sessions, users
from central.errors import AdminError, AuthError, ForbiddenError
from sync.fields import format_utc

ROLES: dict[str, frozenset[str]] = {
    "officer": frozenset({"search", "fleet"}),
    "supervisor": frozenset({"search", "fleet", "audit", "users"}),
    "technician": frozenset({"fleet"}),
    # credentials: reset another user's password, issue an API token for another user (both
    # let the one who does it act as that user, so a supervisor may not)
    "administrator": frozenset({"search", "fleet", "audit", "users", "credentials"}),
}
# The CLI's actor: whoever can run `anju central` against the database owns it anyway. Never a
# role a user can have (ROLES does not hold it), so no session or token carries it.
OPERATOR = "operator"
# A user manages (creates, changes, disables ...) only users of a rank strictly below their own:
# no one makes a peer, so a supervisor cannot mint a second supervisor account to act through.
RANK = {"technician": 1, "officer": 1, "supervisor": 2, "administrator": 3, OPERATOR: 4}
IDLE_S = 30 * 60
FEED_TOKEN_PREFIX = "anjufeed_"  # central/feed/tokens.py: tokens of systems, not of users
ABSOLUTE_S = 10 * 3600
hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified in place of a missing user's hash, so an unknown username costs the same time as a
# wrong password. A constant, not hashed at import: hashing costs ~0.5 s of CPU, paid by every
# server start and `anju central` command. Its parameters must stay the hasher's own (else the
# two verifications would differ in time): tests/central/test_police_accounts.py checks that.
DUMMY_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$172eqhRHAeSlZyne4iQlRQ$"
              "g3YNLenV3exwYzXVNujf5wEggaBBwFhl3JQTQ4LqUKA")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: a logged-in user (with the session's CSRF token) or an API token."""

    username: str
    role: str
    district: str | None
    csrf_token: str | None = None

    def can(self, permission: str) -> bool:
        return permission in ROLES.get(self.role, frozenset())

    @property
    def rank(self) -> int:
        return RANK.get(self.role, 0)

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise ForbiddenError(f"role {self.role} may not {permission}", code="forbidden")


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(12)


def set_site_district(engine: Engine, site_code: str, district: str) -> None:
    with engine.begin() as conn:
        if not conn.execute(select(sites.c.code).where(sites.c.code == site_code)).first():
            raise AdminError(f"unknown site {site_code}")
        conn.execute(delete(site_districts).where(site_districts.c.site_code == site_code))
        conn.execute(insert(site_districts).values(site_code=site_code, district=district))


def login(engine: Engine, username: str, password: str, throttle: LoginThrottle | None = None,
          host: str | None = None) -> tuple[str, Principal]:
    """Check the password; returns (session cookie value, principal).

    With a throttle (the server always has one), the attempt is counted for the username and the
    client address `host` first: ThrottledError (429) while either is locked, and when this
    failure locks it."""
    attempt = throttle.reserve(username, host) if throttle else None
    try:
        row = _check_password(engine, username, password)
    except AuthError:
        if throttle and attempt:
            until = throttle.failed(attempt)
            if until is not None:
                raise ThrottledError(until, time.time()) from None
        raise
    if throttle and attempt:
        throttle.succeeded(attempt)
    cookie, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(24), time.time()
    with engine.begin() as conn:
        conn.execute(insert(user_sessions).values(
            token_sha256=sha256(cookie), username=username, csrf_token=csrf, created_s=now,
            last_seen_s=now))
    return cookie, Principal(row.username, row.role, row.district, csrf)


def _check_password(engine: Engine, username: str, password: str) -> Any:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.username == username)).first()
    try:
        hasher.verify(row.password_hash if row else DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError) as err:
        raise AuthError("wrong username or password", code="bad_login") from err
    if row is None:
        raise AuthError("wrong username or password", code="bad_login")
    if row.disabled:
        raise AuthError("this account is disabled", code="account_disabled")
    return row


def session_principal(engine: Engine, cookie: str) -> Principal:
    """The user of a live session (its idle clock restarted), or AuthError."""
    now = time.time()
    key = sha256(cookie)
    with engine.begin() as conn:
        row = conn.execute(
            select(user_sessions.c.csrf_token, user_sessions.c.created_s,
                   user_sessions.c.last_seen_s, users.c.username, users.c.role,
                   users.c.district, users.c.disabled)
            .join(users, users.c.username == user_sessions.c.username)
            .where(user_sessions.c.token_sha256 == key)).first()
        if row is None:
            raise AuthError("not logged in", code="no_session")
        expired = (row.disabled or now - row.last_seen_s > IDLE_S
                   or now - row.created_s > ABSOLUTE_S)
        if expired:  # committed before raising: an expired session is gone for good
            conn.execute(delete(user_sessions).where(user_sessions.c.token_sha256 == key))
        else:
            conn.execute(update(user_sessions).where(user_sessions.c.token_sha256 == key)
                         .values(last_seen_s=now))
    if expired:
        raise AuthError("session expired", code="session_expired")
    return Principal(row.username, row.role, row.district, row.csrf_token)


def _dead(now_s: float) -> ColumnElement[bool]:
    return ((user_sessions.c.last_seen_s < now_s - IDLE_S)
            | (user_sessions.c.created_s < now_s - ABSOLUTE_S))


def dead_sessions(conn: Connection, now_s: float, *, remove: bool) -> int:
    """Sessions past their idle or absolute lifetime (counted, or removed with `remove`): one
    is deleted when it is next presented, but a browser closed without logging out never
    presents it again, so `anju central purge` removes the rest."""
    if remove:
        return int(conn.execute(delete(user_sessions).where(_dead(now_s))).rowcount)
    return int(conn.execute(select(func.count()).select_from(user_sessions)
                            .where(_dead(now_s))).scalar_one())


def logout(engine: Engine, cookie: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(user_sessions).where(user_sessions.c.token_sha256 == sha256(cookie)))


def token_principal(engine: Engine, authorization: str | None) -> Principal:
    """The user behind `Authorization: Bearer <token>`, or AuthError."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthError("an API token is required: Authorization: Bearer <token>",
                        code="missing_token")
    if value.strip().startswith(FEED_TOKEN_PREFIX):  # a system's feed token (central/feed)
        raise ForbiddenError("a feed token cannot search", code="wrong_token_kind")
    with engine.connect() as conn:
        row = conn.execute(
            select(users.c.username, users.c.role, users.c.district, users.c.disabled)
            .join(api_tokens, api_tokens.c.username == users.c.username)
            .where(api_tokens.c.token_sha256 == sha256(value.strip()),
                   api_tokens.c.revoked_at.is_(None),
                   api_tokens.c.expires_at > format_utc(utc_now()))).first()
    if row is None or row.disabled:
        raise AuthError("unknown, revoked, expired or disabled API token", code="bad_token")
    return Principal(row.username, row.role, row.district)


def must_exist(conn: Connection, username: str) -> Any:
    row = conn.execute(select(users).where(users.c.username == username)).first()
    if row is None:
        raise AdminError(f"unknown user {username}")
    return row
