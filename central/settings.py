"""Server settings: one frozen value built by the CLI (or a test) and handed to `create_app`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from central.db.bounds import DbBounds
from central.police.reasons import ReasonRule
from central.throttle import ThrottlePolicy
from sync.protocol import DEFAULT_LIMITS, Limits

DB_ENV = "ANJU_CENTRAL_DB"
READ_DB_ENV = "ANJU_CENTRAL_READ_DB"
PHOTO_LIBRARY_ENV = "ANJU_CENTRAL_PHOTO_LIBRARY"
PHOTO_LICENCE_ENV = "ANJU_CENTRAL_PHOTO_LICENCE_CODE"
RETENTION_ENV = "ANJU_CENTRAL_RETENTION_DAYS"
TOKEN_TTL_ENV = "ANJU_CENTRAL_API_TOKEN_TTL"


def default_db_url() -> str:
    """`ANJU_CENTRAL_DB`, else the embedded default: SQLite in ./var/central.db."""
    return os.environ.get(DB_ENV) or f"sqlite:///{Path('var/central.db').resolve()}"


@dataclass(frozen=True, slots=True)
class Settings:
    db_url: str = field(default_factory=default_db_url)
    max_in_flight: int = 64  # concurrent requests; beyond this: 503 + Retry-After, no queueing
    retry_after_s: int = 5  # base of the Retry-After sent when shedding (jittered up to 2x)
    limits: Limits = DEFAULT_LIMITS
    timestamp_window_s: int = 300  # |server time - signed timestamp| allowed
    body_timeout_s: float = 30.0  # a request's whole body must arrive within this: else 408
    accept_legacy_signing: bool = False  # signed requests without X-Anju-Body-SHA256 (read first)
    heartbeat_interval_s: int = 300  # told to devices in every heartbeat answer
    migrate: bool = True  # run migrations when the app starts
    read_db_url: str = ""  # police searches on this standby (--read-db); "" = on db_url
    read_db_stale_after_s: float = 5.0  # a standby further behind: the page warns
    db_pool_size: int = 10  # PostgreSQL connection pool (SQLite serialises writers anyway)
    # Bounded waits on PostgreSQL (central/db/pgbounds.py): a hung database answers 503 fast.
    db_connect_timeout_s: int = 3  # per host of a multi-host URL
    db_statement_timeout_s: float = 10.0  # server-side; the client gives up 2 s later; 0 = none
    db_lock_timeout_s: float = 5.0  # waiting for a row or advisory lock
    db_pool_timeout_s: float = 3.0  # waiting for a pooled connection
    silent_after_s: int = 30 * 60  # fleet page: no heartbeat for this long = silent terminal
    backlog_alarm_s: int = 60 * 60  # fleet page: oldest undelivered event older = old backlog
    query_timeout_s: float = 5.0  # police searches are cut off after this (statement timeout)
    photo_library: str = ""  # the vendor's WLT decoder (.so, absolute); "" = no guest photos
    photo_licence_code: int = 0  # the vendor's per-customer code passed to the decoder
    photo_timeout_s: float = 2.0  # a decoder call not answered by then: "照片无法解码"
    login_user_limit: int = 5  # failed logins per username within the window, then a lock
    login_address_limit: int = 30  # failed logins per client address within the window
    login_window_s: int = 15 * 60  # the window failed logins are counted in
    login_lockout_s: int = 5 * 60  # the first lock; each further one doubles ...
    login_max_lockout_s: int = 60 * 60  # ... up to this
    api_token_ttl_s: int = 90 * 86400  # lifetime of an API token issued on /users
    reason_min_chars: int = 4  # a search/view/export reason: at least this many characters
    retention_days: int = 0  # `anju central purge` removes stays older; 0 = not set (refused)
    reason_pattern: str = ""  # ... and, when set, containing a match (a case-number format)

    def __post_init__(self) -> None:
        if self.max_in_flight < 1 or self.retry_after_s < 1 or self.timestamp_window_s < 1:
            raise ValueError("max_in_flight, retry_after_s and timestamp_window_s must be >= 1")
        if self.body_timeout_s <= 0:
            raise ValueError("body_timeout_s must be > 0")
        if self.photo_library and not os.path.isabs(self.photo_library):
            raise ValueError(f"photo_library must be an absolute path, got {self.photo_library}")
        if self.photo_licence_code < 0 or self.photo_timeout_s <= 0:
            raise ValueError("photo_licence_code must be >= 0 and photo_timeout_s > 0")
        if not 60 <= self.api_token_ttl_s <= 366 * 86400:
            raise ValueError("api_token_ttl_s must be between 1 minute and 366 days")
        self.throttle_policy()  # validates the login limits
        self.db_bounds()  # validates the database bounds
        self.reason_rule()  # validates the reason rule

    def db_bounds(self) -> DbBounds:
        return DbBounds(connect_timeout_s=self.db_connect_timeout_s,
                        statement_timeout_s=self.db_statement_timeout_s,
                        lock_timeout_s=self.db_lock_timeout_s,
                        pool_timeout_s=self.db_pool_timeout_s)

    def reason_rule(self) -> ReasonRule:
        return ReasonRule(self.reason_min_chars, self.reason_pattern)

    def throttle_policy(self) -> ThrottlePolicy:
        return ThrottlePolicy(self.login_user_limit, self.login_address_limit,
                              self.login_window_s, self.login_lockout_s, self.login_max_lockout_s)
