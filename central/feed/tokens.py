"""Feed tokens: how a police system (not a person) authenticates to `GET /api/v1/feed`.

A feed token is its own kind, apart from users' API tokens: `anjufeed_` + 256 random bits,
shown once, stored as SHA-256; named for the consuming system; optionally limited to districts;
with a lifetime (1 minute to 366 days) and a rate (pages per minute, counted in the database so
that every server process counts the same). A feed token cannot search (the search API answers
403 `wrong_token_kind`), and a user's API token cannot pull the feed (the same answer here).

Issuing and revoking are credential acts: an administrator or the CLI (accounts/admin.py's
`require_credentials`); an administrator with a district issues only tokens limited to that
district and revokes only those. Both are audited (`feed_issue`, `feed_revoke`), never with the
token, only its id (the first 16 hex digits of its hash).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update

from central.accounts import api_tokens, audit
from central.accounts.admin import require_credentials
from central.accounts.principals import FEED_TOKEN_PREFIX, OPERATOR, Principal, sha256
from central.clock import utc_now
from central.db.tables import api_tokens as user_tokens
from central.db.tables import feed_tokens
from central.errors import AdminError, AuthError, CentralError, ForbiddenError
from sync.fields import format_utc

PREFIX = FEED_TOKEN_PREFIX
ROLE = "feed"
DEFAULT_RATE = 120  # pages per minute
WINDOW_S = 60.0


class RateLimitedError(CentralError):
    status, code = 429, "rate_limited"


@dataclass(frozen=True, slots=True)
class FeedClient:
    """The system behind a feed token."""

    token_id: str
    system: str
    districts: tuple[str, ...] | None  # None: every district

    def principal(self) -> Principal:
        """As the audit log names it."""
        return Principal(f"feed:{self.system}", ROLE, None)


def issue(
    engine: Engine,
    system: str,
    *,
    by: Principal,
    districts: Sequence[str] = (),
    ttl: timedelta = api_tokens.DEFAULT_TTL,
    rate_per_minute: int = DEFAULT_RATE,
) -> tuple[str, dict[str, Any]]:
    """A new feed token for `system`: (value, its public row)."""
    require_credentials(by)
    api_tokens.check_ttl(ttl)
    system = system.strip()
    if not system or len(system) > 48 or not system.isprintable():
        raise AdminError("a system name is 1-48 printable characters")
    if not 1 <= rate_per_minute <= 6000:
        raise AdminError("a feed token's rate is 1-6000 pages per minute")
    wanted = sorted({d.strip() for d in districts if d.strip()}) or None
    if by.role != OPERATOR and by.district is not None and wanted != [by.district]:
        raise ForbiddenError(
            f"an administrator of district {by.district} issues feed tokens "
            "limited to that district only",
            code="forbidden",
        )
    value = PREFIX + secrets.token_urlsafe(32)
    now = utc_now()
    row = {
        "token_sha256": sha256(value),
        "system": system,
        "districts": json.dumps(wanted, ensure_ascii=False) if wanted else None,
        "created_at": format_utc(now),
        "created_by": by.username,
        "expires_at": format_utc(now + ttl),
        "rate_per_minute": rate_per_minute,
        "window_start_s": 0.0,
        "window_count": 0,
    }
    with engine.begin() as conn:
        conn.execute(insert(feed_tokens).values(**row))
        audit.append_in(
            conn,
            by,
            "feed_issue",
            "",
            {
                "system": system,
                "token": api_tokens.token_id(row["token_sha256"]),
                "districts": wanted,
                "expires_at": row["expires_at"],
                "rate": rate_per_minute,
            },
            1,
        )
    return value, public(row)


def revoke(engine: Engine, token: str, *, by: Principal) -> None:
    require_credentials(by)
    token = token.strip().lower()
    with engine.begin() as conn:
        row = (
            conn.execute(
                select(feed_tokens).where(
                    feed_tokens.c.token_sha256.like(token + "%"), feed_tokens.c.revoked_at.is_(None)
                )
            ).first()
            if len(token) == 16
            else None
        )
        if row is None:
            raise AdminError(f"no live feed token {token}")
        if (
            by.role != OPERATOR
            and by.district is not None
            and _districts(row.districts) != (by.district,)
        ):
            raise ForbiddenError("outside your district", code="forbidden")
        conn.execute(
            update(feed_tokens)
            .where(feed_tokens.c.token_sha256 == row.token_sha256)
            .values(revoked_at=format_utc(utc_now()))
        )
        audit.append_in(conn, by, "feed_revoke", "", {"system": row.system, "token": token}, 1)


def list_tokens(engine: Engine, *, live_only: bool = True) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = [
            public(dict(r._mapping))
            for r in conn.execute(
                select(feed_tokens).order_by(feed_tokens.c.system, feed_tokens.c.created_at)
            )
        ]
    return [r for r in rows if r["state"] == "live"] if live_only else rows


def public(row: dict[str, Any]) -> dict[str, Any]:
    now = format_utc(utc_now())
    state = "revoked" if row.get("revoked_at") else "live" if row["expires_at"] > now else "expired"
    districts = _districts(row.get("districts"))
    return {
        "id": api_tokens.token_id(row["token_sha256"]),
        "system": row["system"],
        "districts": list(districts) if districts else None,
        "created_at": row["created_at"],
        "created_by": row["created_by"],
        "expires_at": row["expires_at"],
        "rate_per_minute": row["rate_per_minute"],
        "state": state,
        "revoked_at": row.get("revoked_at"),
        "last_used_at": row.get("last_used_at"),
    }


def authenticate(engine: Engine, authorization: str | None) -> FeedClient:
    """The system behind `Authorization: Bearer anjufeed_...`, its page counted against its
    rate: AuthError 401, ForbiddenError 403 (a user's API token), RateLimitedError 429."""
    scheme, _, value = (authorization or "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise AuthError(
            "a feed token is required: Authorization: Bearer <token>", code="missing_token"
        )
    key, now_s, now = sha256(value), time.time(), format_utc(utc_now())
    with engine.begin() as conn:
        if not value.startswith(PREFIX):
            if conn.execute(
                select(user_tokens.c.token_sha256).where(user_tokens.c.token_sha256 == key)
            ).first():
                raise ForbiddenError(
                    "a search API token cannot pull the feed: ask an "
                    "administrator for a feed token",
                    code="wrong_token_kind",
                )
            raise AuthError("unknown, revoked or expired feed token", code="bad_token")
        row = conn.execute(
            select(feed_tokens)
            .where(
                feed_tokens.c.token_sha256 == key,
                feed_tokens.c.revoked_at.is_(None),
                feed_tokens.c.expires_at > now,
            )
            .with_for_update()
        ).first()
        if row is None:
            raise AuthError("unknown, revoked or expired feed token", code="bad_token")
        fresh = now_s - row.window_start_s >= WINDOW_S
        count = 1 if fresh else row.window_count + 1
        if count > row.rate_per_minute:
            wait = max(1, int(row.window_start_s + WINDOW_S - now_s + 0.999))
            raise RateLimitedError(f"more than {row.rate_per_minute} pages a minute",
                                   retry_after_s=wait)
        conn.execute(
            update(feed_tokens)
            .where(feed_tokens.c.token_sha256 == key)
            .values(
                window_start_s=now_s if fresh else row.window_start_s,
                window_count=count,
                last_used_at=now,
            )
        )
    return FeedClient(api_tokens.token_id(key), row.system, _districts(row.districts))


def _districts(raw: str | None) -> tuple[str, ...] | None:
    return tuple(json.loads(raw)) if raw else None
