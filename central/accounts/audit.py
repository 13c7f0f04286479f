"""The audit log: one append-only, hash-chained row per search, view, co-stay and export, and
per account action (central/accounts/admin.py: user_add, user_change, user_reset, ...).

    row_sha256 = SHA-256(prev_sha256 "\n" canonical JSON of {at, username, role, action,
                                                              reason, query, result_count})

The first row's `prev_sha256` is 64 zeros. Removing, reordering or editing any row breaks the
chain at that row, and `verify()` names it. The database refuses UPDATE and DELETE on the table
(migration 0002), so the chain guards against what the triggers cannot: a restore from an
edited dump. Appends are serialised (BEGIN IMMEDIATE on SQLite, an advisory transaction lock on
PostgreSQL) so two concurrent searches cannot both chain onto the same predecessor.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, text

from central.accounts.principals import Principal
from central.accounts.reasons import DEFAULT_RULE, MAX_REASON, ReasonRule
from central.clock import day_start_utc, utc_now
from central.db.tables import audit_log
from central.errors import BadRequestError
from sync.fields import format_utc

GENESIS = "0" * 64
_LOCK_KEY = 0x414E4A55  # "ANJU": the advisory lock that orders appends on PostgreSQL


@dataclass(frozen=True, slots=True)
class ChainReport:
    rows: int
    first_bad_id: int | None  # None: the whole chain verifies

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None




def require_reason(reason: str | None, rule: ReasonRule = DEFAULT_RULE) -> str:
    """Every look at personal data needs a case number or a reason in words, as the rule says."""
    cleaned = " ".join((reason or "").split())
    if not cleaned:
        raise BadRequestError("a reason (case number or text) is required", code="missing_reason",
                              field="reason")
    if len(cleaned) > MAX_REASON:
        raise BadRequestError(f"reason longer than {MAX_REASON} characters", code="invalid_field",
                              field="reason")
    if len(cleaned) < rule.min_chars or (rule.pattern and not re.search(rule.pattern, cleaned)):
        wants = f"at least {rule.min_chars} characters"
        wants += f" containing a case number ({rule.pattern})" if rule.pattern else ""
        raise BadRequestError(f"reason too weak: give {wants}", code="weak_reason",
                              field="reason", rule=rule.describe_zh())
    return cleaned


def canonical(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def row_hash(prev: str, fields: Mapping[str, Any]) -> str:
    body = {k: fields[k] for k in ("at", "username", "role", "action", "reason", "query",
                                   "result_count")}
    return hashlib.sha256(f"{prev}\n{canonical(body)}".encode()).hexdigest()


def append(engine: Engine, who: Principal, action: str, reason: str,
           query: Mapping[str, Any], result_count: int) -> int:
    """Write one audit row in its own transaction; returns its id."""
    with engine.begin() as conn:
        return append_in(conn, who, action, reason, query, result_count)


def append_in(conn: Connection, who: Principal, action: str, reason: str,
              query: Mapping[str, Any], result_count: int) -> int:
    """Write one audit row in the caller's transaction (an account change and its row commit
    together or not at all); returns its id."""
    fields = {"at": format_utc(utc_now()), "username": who.username, "role": who.role,
              "action": action, "reason": reason,
              "query": canonical({k: v for k, v in query.items() if v not in (None, "")}),
              "result_count": result_count}
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = conn.execute(select(audit_log.c.row_sha256)
                        .order_by(audit_log.c.id.desc()).limit(1)).scalar()
    prev = last or GENESIS
    result = conn.execute(insert(audit_log).values(
        **fields, prev_sha256=prev, row_sha256=row_hash(prev, fields)))
    return int(result.inserted_primary_key[0])


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What the audit page filters on (all optional): user, action, Beijing days, reason text."""

    username: str | None = None
    action: str | None = None
    day_from: str | None = None  # YYYY-MM-DD, Beijing
    day_to: str | None = None
    reason: str | None = None  # substring of the reason


def rows(engine: Engine, *, limit: int = 200, before_id: int | None = None,
         username: str | None = None, where: AuditFilter | None = None
         ) -> list[dict[str, Any]]:
    """Newest first."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    where = where or AuditFilter()
    if username or where.username:
        query = query.where(audit_log.c.username == (username or where.username))
    if where.action:
        query = query.where(audit_log.c.action == where.action)
    if where.day_from:
        query = query.where(audit_log.c.at >= day_start_utc(where.day_from))
    if where.day_to:
        query = query.where(audit_log.c.at < day_start_utc(where.day_to, 1))
    if where.reason:
        escaped = where.reason.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(audit_log.c.reason.like(f"%{escaped}%", escape="\\"))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def verify(engine: Engine, batch: int = 5000) -> ChainReport:
    """Walk the whole chain in id order, in batches (the log grows without bound)."""
    prev, count, after = GENESIS, 0, 0
    with engine.connect() as conn:
        while True:
            chunk = conn.execute(select(audit_log).where(audit_log.c.id > after)
                                 .order_by(audit_log.c.id).limit(batch)).all()
            for row in chunk:
                fields = row._mapping
                if row.prev_sha256 != prev or row_hash(prev, fields) != row.row_sha256:
                    return ChainReport(count, row.id)
                prev, count, after = row.row_sha256, count + 1, row.id
            if len(chunk) < batch:
                return ChainReport(count, None)


def count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_log)).scalar() or 0)
