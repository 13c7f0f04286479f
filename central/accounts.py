"""Police accounts: users with roles, argon2 passwords, browser sessions and API tokens.

    role            may                                         personal data
    officer         search, view, co-stay, export, fleet        yes
    supervisor      officer's + audit log + user management      yes
    technician      fleet and devices                            no
    administrator   everything                                   yes

Secrets are shown once and stored as hashes only: passwords as argon2id, session cookies and API
tokens as SHA-256 (they are 256-bit random values, so a fast hash is enough and lookups stay
indexed). A session expires after `IDLE_S` without a request and `ABSOLUTE_S` after login. An
API token acts with its user's current role, so disabling the user or changing the role takes
effect at once. Password logins are throttled per username and client address
(central/throttle.py); `unlock_login` and a password reset lift a lock.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, Engine, delete, insert, select, update

from central.db.tables import api_tokens, site_districts, sites, user_sessions, users
from central.errors import AdminError, AuthError, ForbiddenError
from central.throttle import USER, LoginThrottle, ThrottledError, key_of
from central.timefix import utc_now
from sync.fields import format_utc

ROLES: dict[str, frozenset[str]] = {
    "officer": frozenset({"search", "fleet"}),
    "supervisor": frozenset({"search", "fleet", "audit", "users"}),
    "technician": frozenset({"fleet"}),
    "administrator": frozenset({"search", "fleet", "audit", "users"}),
}
IDLE_S = 30 * 60
ABSOLUTE_S = 10 * 3600
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the user does not exist, so timing does not reveal valid usernames.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: a logged-in user (with the session's CSRF token) or an API token."""

    username: str
    role: str
    district: str | None
    csrf_token: str | None = None

    def can(self, permission: str) -> bool:
        return permission in ROLES.get(self.role, frozenset())

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise ForbiddenError(f"role {self.role} may not {permission}", code="forbidden")


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_password() -> str:
    return secrets.token_urlsafe(12)


def add_user(engine: Engine, username: str, role: str, password: str | None = None,
             district: str | None = None) -> str:
    """Create a user; returns the password (generated unless given)."""
    if role not in ROLES:
        raise AdminError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if not username or len(username) > 64 or not username.isprintable():
        raise AdminError("a username is 1-64 printable characters")
    password = password or new_password()
    now = format_utc(utc_now())
    with engine.begin() as conn:
        if conn.execute(select(users.c.username).where(users.c.username == username)).first():
            raise AdminError(f"user {username} exists already")
        conn.execute(insert(users).values(
            username=username, role=role, password_hash=_hasher.hash(password), disabled=False,
            district=district, created_at=now, password_set_at=now))
    return password


def set_disabled(engine: Engine, username: str, disabled: bool = True) -> None:
    """Disable (or re-enable) a user; a disabled user's sessions end at once."""
    with engine.begin() as conn:
        _must_exist(conn, username)
        conn.execute(update(users).where(users.c.username == username).values(disabled=disabled))
        conn.execute(delete(user_sessions).where(user_sessions.c.username == username))


def reset_password(engine: Engine, username: str) -> str:
    """A new generated password; every session of the user ends, a login lock too."""
    password = new_password()
    with engine.begin() as conn:
        _must_exist(conn, username)
        conn.execute(update(users).where(users.c.username == username).values(
            password_hash=_hasher.hash(password), password_set_at=format_utc(utc_now())))
        conn.execute(delete(user_sessions).where(user_sessions.c.username == username))
        LoginThrottle.clear_user(conn, username)  # the new password may be tried at once
    return password


def issue_api_token(engine: Engine, username: str) -> str:
    """A new bearer token for the user (printed once, stored as SHA-256)."""
    value = "anju_" + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        _must_exist(conn, username)
        conn.execute(insert(api_tokens).values(token_sha256=sha256(value), username=username,
                                               created_at=format_utc(utc_now())))
    return value


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
        _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError) as err:
        raise AuthError("wrong username or password", code="bad_login") from err
    if row is None:
        raise AuthError("wrong username or password", code="bad_login")
    if row.disabled:
        raise AuthError("this account is disabled", code="account_disabled")
    return row


def unlock_login(engine: Engine, username: str) -> bool:
    """Forget a username's failed logins and lock; False when it had none."""
    with engine.begin() as conn:
        _must_exist(conn, username)
        return LoginThrottle.clear_user(conn, username)


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


def logout(engine: Engine, cookie: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(user_sessions).where(user_sessions.c.token_sha256 == sha256(cookie)))


def token_principal(engine: Engine, authorization: str | None) -> Principal:
    """The user behind `Authorization: Bearer <token>`, or AuthError."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthError("an API token is required: Authorization: Bearer <token>",
                        code="missing_token")
    with engine.connect() as conn:
        row = conn.execute(
            select(users.c.username, users.c.role, users.c.district, users.c.disabled)
            .join(api_tokens, api_tokens.c.username == users.c.username)
            .where(api_tokens.c.token_sha256 == sha256(value.strip()),
                   api_tokens.c.revoked_at.is_(None))).first()
    if row is None or row.disabled:
        raise AuthError("unknown, revoked or disabled API token", code="bad_token")
    return Principal(row.username, row.role, row.district)


def list_users(engine: Engine) -> list[dict[str, object]]:
    """Users without their password hashes, by name; `locked_until_s` while a login lock lasts."""
    with engine.connect() as conn:
        locked = LoginThrottle.locks(conn, USER, time.time())
        rows = [dict(r._mapping) for r in conn.execute(
            select(users.c.username, users.c.role, users.c.district, users.c.disabled,
                   users.c.created_at, users.c.password_set_at).order_by(users.c.username))]
    for row in rows:
        row["locked_until_s"] = locked.get(key_of(USER, str(row["username"])))
    return rows


def _must_exist(conn: Connection, username: str) -> None:
    if not conn.execute(select(users.c.username).where(users.c.username == username)).first():
        raise AdminError(f"unknown user {username}")
