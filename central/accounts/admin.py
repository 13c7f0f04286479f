"""Managing police accounts, from `/users` and from `anju central user ...`: who may do what to
whom, and an audit row for every act.

Scope (refused with 403 `forbidden`, nothing changed, nothing audited):

* rank: a user manages only users whose role ranks strictly below their own (accounts.RANK),
  before and after the change: a supervisor manages officers and technicians, an administrator
  supervisors too; no one creates, changes, disables or resets a peer or a superior.
* district: a user with a district manages only users of that same district, and cannot give a
  user another district or none (a district-less user sees every district).
* credentials: a password reset, or an API token for another user, lets whoever does it act as
  that user, so only administrators may (accounts.ROLES "credentials"); a supervisor never sees
  another user's password. Creating a user shows its first password to its creator, who is
  recorded as such.
* the CLI acts as `operator` (rank 4, any district): whoever runs it holds the database anyway.

Every act writes one hash-chained audit row (central/accounts/audit.py) in the same transaction as
the change: action user_add, user_change, user_reset, user_disable, user_enable, user_unlock,
token_issue, token_revoke; the query column holds the target user and what changed (never a
password or a token, only a token's id). Disabling a user and resetting a password revoke the
user's API tokens; enabling revives none (central/accounts/api_tokens.py).
"""

from __future__ import annotations

import getpass
import os
import secrets
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from central.accounts import api_tokens, audit
from central.accounts.login_throttle import USER, LoginThrottle, key_of
from central.accounts.principals import (
    OPERATOR,
    RANK,
    ROLES,
    Principal,
    hasher,
    must_exist,
    new_password,
    sha256,
)
from central.clock import utc_now
from central.db.tables import api_tokens as api_tokens_table
from central.db.tables import user_sessions, users
from central.errors import AdminError, ForbiddenError
from sync.fields import format_utc


def operator() -> Principal:
    """The CLI's actor, named after the operating-system user who ran the command."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no passwd entry (containers)
        name = f"uid{os.getuid()}"
    return Principal(f"cli:{name}"[:64], OPERATOR, None)


def may_manage(by: Principal, role: str, district: str | None) -> bool:
    if by.role == OPERATOR:
        return True
    return (by.can("users") and RANK.get(role, 99) < by.rank
            and (by.district is None or district == by.district))


def check_scope(by: Principal, role: str, district: str | None, username: str) -> None:
    if may_manage(by, role, district):
        return
    if not by.can("users"):
        raise ForbiddenError(f"role {by.role} may not manage users", code="forbidden")
    if RANK.get(role, 99) >= by.rank:
        raise ForbiddenError(f"a {by.role} may not manage a {role} ({username})",
                             code="forbidden")
    raise ForbiddenError(f"a user of district {by.district} manages only users of that district "
                         f"({username}: {district or 'no district'})", code="forbidden")


def require_credentials(by: Principal) -> None:
    if by.role != OPERATOR and not by.can("credentials"):
        raise ForbiddenError("only an administrator may reset a password or issue an API token "
                             "for another user", code="forbidden")


def target(conn: Connection, by: Principal, username: str) -> Any:
    """The user row, when `by` may manage it."""
    row = must_exist(conn, username)
    check_scope(by, row.role, row.district, username)
    return row


def record(conn: Connection, by: Principal, action: str, username: str, **what: Any) -> None:
    audit.append_in(conn, by, action, "", {"user": username, **what}, 1)


def add_user(engine: Engine, username: str, role: str, password: str | None = None,
             district: str | None = None, *, by: Principal) -> str:
    """Create a user; returns the password (generated unless given)."""
    if role not in ROLES:
        raise AdminError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    if not username or len(username) > 64 or not username.isprintable():
        raise AdminError("a username is 1-64 printable characters")
    district = _district(district)
    check_scope(by, role, district, username)
    password = password or new_password()
    now = format_utc(utc_now())
    with engine.begin() as conn:
        if conn.execute(select(users.c.username).where(users.c.username == username)).first():
            raise AdminError(f"user {username} exists already")
        conn.execute(insert(users).values(
            username=username, role=role, password_hash=hasher.hash(password), disabled=False,
            district=district, created_at=now, password_set_at=now))
        record(conn, by, "user_add", username, role=role, district=district)
    return password


_KEEP: Any = object()


def change_user(engine: Engine, username: str, *, by: Principal, role: str | None = None,
                district: str | Any | None = _KEEP) -> None:
    """Give a user another role and/or district (`district=None`: none); in scope before and
    after. Takes effect at the user's next request (sessions and tokens read the user row)."""
    if role is not None and role not in ROLES:
        raise AdminError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
    with engine.begin() as conn:
        row = target(conn, by, username)
        new_role = role or row.role
        new_district = row.district if district is _KEEP else _district(district)
        check_scope(by, new_role, new_district, username)
        if (new_role, new_district) == (row.role, row.district):
            return
        conn.execute(update(users).where(users.c.username == username)
                     .values(role=new_role, district=new_district))
        record(conn, by, "user_change", username, role=new_role, district=new_district,
               was={"role": row.role, "district": row.district})


def set_disabled(engine: Engine, username: str, disabled: bool = True, *,
                 by: Principal) -> None:
    """Disable a user (sessions end, API tokens are revoked) or enable one (tokens stay
    revoked: a new one must be issued)."""
    with engine.begin() as conn:
        target(conn, by, username)
        conn.execute(update(users).where(users.c.username == username).values(disabled=disabled))
        conn.execute(delete(user_sessions).where(user_sessions.c.username == username))
        revoked = api_tokens.revoke_all_in(conn, username, "disabled") if disabled else []
        record(conn, by, "user_disable" if disabled else "user_enable", username,
               tokens_revoked=revoked)


def reset_password(engine: Engine, username: str, *, by: Principal) -> str:
    """A new generated password (administrators and the CLI only); every session and API token
    of the user ends, a login lock too."""
    require_credentials(by)
    password = new_password()
    with engine.begin() as conn:
        target(conn, by, username)
        conn.execute(update(users).where(users.c.username == username).values(
            password_hash=hasher.hash(password), password_set_at=format_utc(utc_now())))
        conn.execute(delete(user_sessions).where(user_sessions.c.username == username))
        revoked = api_tokens.revoke_all_in(conn, username, "reset")
        LoginThrottle.clear_user(conn, username)  # the new password may be tried at once
        record(conn, by, "user_reset", username, tokens_revoked=revoked)
    return password


def unlock_login(engine: Engine, username: str, *, by: Principal) -> bool:
    """Forget a username's failed logins and lock; False when it had none."""
    with engine.begin() as conn:
        target(conn, by, username)
        had = LoginThrottle.clear_user(conn, username)
        record(conn, by, "user_unlock", username, had_failures=had)
        return had


def issue_api_token(engine: Engine, username: str, *, by: Principal,
                    ttl: timedelta = api_tokens.DEFAULT_TTL) -> tuple[str, dict[str, Any]]:
    """A new bearer token for the user (administrators and the CLI only): (value, its row)."""
    api_tokens.check_ttl(ttl)
    require_credentials(by)
    value = "anju_" + secrets.token_urlsafe(32)
    now = utc_now()
    row = {"token_sha256": sha256(value), "username": username, "created_at": format_utc(now),
           "expires_at": format_utc(now + ttl)}
    with engine.begin() as conn:
        target(conn, by, username)
        conn.execute(insert(api_tokens_table).values(**row))
        record(conn, by, "token_issue", username, token=api_tokens.token_id(row["token_sha256"]),
               expires_at=row["expires_at"])
    return value, api_tokens.public(row)


def revoke_api_token(engine: Engine, username: str, token: str, *, by: Principal) -> None:
    """Revoke one live token of the user, named by its id."""
    token = token.strip().lower()
    if len(token) != api_tokens.ID_LENGTH or any(c not in "0123456789abcdef" for c in token):
        raise AdminError(f"a token id is {api_tokens.ID_LENGTH} hex digits "
                         "(see `anju central user tokens`)")
    with engine.begin() as conn:
        target(conn, by, username)
        found = conn.execute(
            update(api_tokens_table)
            .where(api_tokens_table.c.username == username,
                   api_tokens_table.c.token_sha256.like(token + "%"),
                   api_tokens_table.c.revoked_at.is_(None))
            .values(revoked_at=format_utc(utc_now()), revoked_reason="revoked")).rowcount
        if not found:
            raise AdminError(f"user {username} has no live token {token}")
        record(conn, by, "token_revoke", username, token=token)


def list_users(engine: Engine, by: Principal) -> list[dict[str, object]]:
    """The users `by` may see (a district user: those of the district), by name, without
    password hashes; `locked_until_s` while a login lock lasts, `manageable`, and `tokens`
    (the live API tokens)."""
    query = select(users.c.username, users.c.role, users.c.district, users.c.disabled,
                   users.c.created_at, users.c.password_set_at).order_by(users.c.username)
    if by.role != OPERATOR and by.district is not None:
        query = query.where(users.c.district == by.district)
    with engine.connect() as conn:
        locked = LoginThrottle.locks(conn, USER, time.time())
        rows = [dict(r._mapping) for r in conn.execute(query)]
    tokens = api_tokens.list_tokens(engine, [str(r["username"]) for r in rows], live_only=True)
    for row in rows:
        row["locked_until_s"] = locked.get(key_of(USER, str(row["username"])))
        district = str(row["district"]) if row["district"] is not None else None
        row["manageable"] = may_manage(by, str(row["role"]), district)
        row["tokens"] = [t for t in tokens if t["username"] == row["username"]]
    return rows


def _district(value: str | None) -> str | None:
    cleaned = (value or "").strip()
    if len(cleaned) > 64 or not cleaned.isprintable():
        raise AdminError("a district is at most 64 printable characters")
    return cleaned or None
