"""API tokens of police users: issued with a lifetime, listed, revoked one by one.

A token is `anju_` + 256 random bits, shown once; only its SHA-256 is stored. Its id (the first
16 hex digits of that hash) names it in lists, on `/users` and in the audit log; it is no
secret and cannot be turned back into the token. A token is refused (401 `bad_token`) once its
`expires_at` has passed or it was revoked: one by one (`revoked`), by a password reset
(`reset`) or by disabling its user (`disabled`). Re-enabling a user revives none of them.
Issuing and revoking are account acts, scoped and audited like the others
(central/accounts/admin.py: issue_api_token, revoke_api_token); revoking needs no credentials
permission, as it only takes access away.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from central.clock import utc_now
from central.db.tables import api_tokens
from central.errors import AdminError
from sync.fields import format_utc

DEFAULT_TTL = timedelta(days=90)
MAX_TTL = timedelta(days=366)
ID_LENGTH = 16


def token_id(token_sha256: str) -> str:
    return token_sha256[:ID_LENGTH]


def check_ttl(ttl: timedelta) -> timedelta:
    if not timedelta(minutes=1) <= ttl <= MAX_TTL:
        raise AdminError("an API token lives between 1 minute and 366 days")
    return ttl


def revoke_all_in(conn: Connection, username: str, why: str) -> list[str]:
    """Revoke every unrevoked token of the user (expired ones too, so none can come back);
    returns their ids."""
    live = api_tokens.c.username == username, api_tokens.c.revoked_at.is_(None)
    ids = [token_id(h) for h in conn.execute(select(api_tokens.c.token_sha256).where(*live))
           .scalars()]
    if ids:
        conn.execute(update(api_tokens).where(*live).values(
            revoked_at=format_utc(utc_now()), revoked_reason=why))
    return sorted(ids)


def list_tokens(engine: Engine, usernames: Sequence[str] | None = None, *,
                live_only: bool = False) -> list[dict[str, Any]]:
    """Tokens (never their hashes), oldest first; `state` live, expired or revoked."""
    query = select(api_tokens).order_by(api_tokens.c.username, api_tokens.c.created_at)
    if usernames is not None:
        query = query.where(api_tokens.c.username.in_(list(usernames)))
    with engine.connect() as conn:
        rows = [public(dict(r._mapping)) for r in conn.execute(query)]
    return [r for r in rows if r["state"] == "live"] if live_only else rows


def public(row: dict[str, Any]) -> dict[str, Any]:
    now = format_utc(utc_now())
    state = ("revoked" if row.get("revoked_at")
             else "live" if (row.get("expires_at") or "") > now else "expired")
    return {"id": token_id(row["token_sha256"]), "username": row["username"],
            "created_at": row["created_at"], "expires_at": row.get("expires_at"),
            "state": state, "revoked_at": row.get("revoked_at"),
            "revoked_reason": row.get("revoked_reason")}
