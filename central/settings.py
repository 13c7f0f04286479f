"""Server settings as one table: each field of `Settings` is one setting, with its type (the
annotation), its one default, its help, and how it is given to `anju central serve` (option,
environment variable; the retention's rows to `anju central purge` instead). central/cli/context.py
generates `serve`'s and `purge`'s options from this table,
so a default is written once; tests/central/test_central_settings.py checks that each setting
has exactly one default and a help, and that `serve --help` lists every option.

The value is frozen, validated when built (by the CLI or a test), and handed to `create_app`.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from central.accounts.login_throttle import ThrottlePolicy
from central.accounts.reasons import ReasonRule
from central.db.bounds import DbBounds
from sync.protocol import DEFAULT_LIMITS, Limits

DB_ENV = "ANJU_CENTRAL_DB"
READ_DB_ENV = "ANJU_CENTRAL_READ_DB"
PHOTO_LIBRARY_ENV = "ANJU_CENTRAL_PHOTO_LIBRARY"
PHOTO_LICENCE_ENV = "ANJU_CENTRAL_PHOTO_LICENCE_CODE"
RETENTION_ENV = "ANJU_CENTRAL_RETENTION_DAYS"  # read by `anju central purge`, not by serve
HEARTBEAT_RETENTION_ENV = "ANJU_CENTRAL_HEARTBEAT_RETENTION_DAYS"  # the same
TOKEN_TTL_ENV = "ANJU_CENTRAL_API_TOKEN_TTL"
REASON_MIN_CHARS_ENV = "ANJU_CENTRAL_REASON_MIN_CHARS"
REASON_PATTERN_ENV = "ANJU_CENTRAL_REASON_PATTERN"

# How the command line reads a value beyond its annotated type: a lifetime written 30m, 24h,
# 90d (stored in seconds), or the path of a file that must exist (stored absolute).
Kind = Literal["", "duration", "file"]


@dataclass(frozen=True, slots=True)
class Option:
    """How one setting is given on `anju central serve`'s command line."""

    flag: str  # "--max-in-flight"
    env: str | None = None  # read when the option is not given
    kind: Kind = ""
    shown: str | None = None  # the default as --help shows it, when not the value itself
    command: str = "serve"  # the command that reads it: serve, or purge (the retention)


def default_db_url() -> str:
    """`ANJU_CENTRAL_DB`, else the embedded default: SQLite in ./var/central.db."""
    return os.environ.get(DB_ENV) or f"sqlite:///{Path('var/central.db').resolve()}"


def setting(default: Any, help: str, flag: str | None = None, *, env: str | None = None,
            kind: Kind = "", minimum: float | None = None, shown: str | None = None,
            command: str = "serve") -> Any:
    """One row of the table. `flag` None: not on the command line (set by tests only).
    `minimum`: validated here and on the command line alike. A callable default is a
    factory, called when the value is built. `command`: which command has the option."""
    metadata = {"help": help, "minimum": minimum,
                "option": Option(flag, env, kind, shown, command) if flag else None}
    if callable(default):
        return field(default_factory=default, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, slots=True)
class Settings:
    db_url: str = setting(
        default_db_url, "Database URL: sqlite:///path/central.db or "
        "postgresql+psycopg://user@host:5432/db.", "--db", env=DB_ENV,
        shown="sqlite:///var/central.db")
    host: str = setting("127.0.0.1", "Address the server listens on.", "--host")
    port: int = setting(8600, "TCP port the server listens on (0: any free port).", "--port",
                        minimum=0)
    forwarded_allow_ips: str | None = setting(
        None, "Reverse proxies trusted for X-Forwarded-For (the client address that login "
        "throttling counts); unset: $FORWARDED_ALLOW_IPS, else 127.0.0.1.",
        "--forwarded-allow-ips")
    max_in_flight: int = setting(
        64, "Concurrent requests before answering 503 + Retry-After (no queueing).",
        "--max-in-flight", minimum=1)
    retry_after_s: int = setting(
        5, "Base Retry-After seconds when shedding load (jittered up to 2x).", "--retry-after",
        minimum=1)
    max_body_bytes: int = setting(
        DEFAULT_LIMITS.max_body_bytes, "Largest request body in bytes, as sent (gzip).",
        "--max-body", minimum=1)
    max_events: int = setting(DEFAULT_LIMITS.max_events, "Most events in one batch.",
                              "--max-events", minimum=1)
    timestamp_window_s: int = setting(
        300, "Seconds a signed request's timestamp may differ from the server's clock.",
        "--timestamp-window", minimum=1)
    body_timeout_s: float = setting(
        30.0, "Seconds a request's whole body may take to arrive; slower: 408, closed.",
        "--body-timeout", minimum=0.1)
    accept_legacy_signing: bool = setting(
        False, "Also accept signed requests without X-Anju-Body-SHA256 (terminals from before "
        "it), reading their body before authenticating: for a transition.",
        "--accept-legacy-signing")
    heartbeat_interval_s: int = setting(
        300, "Seconds between heartbeats, told to devices in every heartbeat answer.",
        "--heartbeat-interval", minimum=5)
    migrate: bool = setting(True, "Run the migrations when the app starts (`serve` always "
                            "does; tests may not).")
    read_db_url: str = setting(
        "", "A PostgreSQL standby that police searches run on (pages say how fresh its data "
        "is); audit rows still go to --db. Empty: searches run on --db.", "--read-db",
        env=READ_DB_ENV)
    read_db_stale_after_s: float = setting(
        5.0, "Seconds behind the primary from which the search page warns that the standby's "
        "data is not current.", "--read-db-stale-after", minimum=0)
    db_pool_size: int = setting(
        10, "PostgreSQL connections in this process's pool (SQLite serialises writers anyway).",
        "--db-pool-size", minimum=1)
    # Bounded waits on PostgreSQL (central/db/pgbounds.py): a hung database answers 503 fast.
    db_connect_timeout_s: int = setting(
        3, "Seconds to connect to PostgreSQL, per host of a multi-host URL.",
        "--db-connect-timeout", minimum=2)
    db_statement_timeout_s: float = setting(
        10.0, "PostgreSQL statement_timeout in seconds; the server gives up waiting 2 s later "
        "(a hung database); 0 = no limit.", "--db-statement-timeout", minimum=0)
    db_lock_timeout_s: float = setting(
        5.0, "PostgreSQL lock_timeout in seconds (a row or advisory lock).", "--db-lock-timeout",
        minimum=0)
    db_pool_timeout_s: float = setting(3.0, "Seconds to wait for a pooled connection.",
                                       "--db-pool-timeout", minimum=0.1)
    # Shorter than --retry-after: a failover is over in seconds, and a terminal's own backoff
    # (full jitter, growing with each failure) spaces its retries of a long outage anyway.
    db_retry_after_s: int = setting(
        2, "Retry-After seconds of a 503 because the database did not answer.",
        "--db-retry-after", minimum=1)
    silent_after_s: int = setting(
        30 * 60, "Fleet page: seconds without a heartbeat before a terminal counts as silent.",
        "--silent-after", minimum=1)
    backlog_alarm_s: int = setting(
        60 * 60, "Fleet page: age in seconds of a terminal's oldest undelivered event from "
        "which it counts as an old backlog.", "--backlog-alarm", minimum=1)
    query_timeout_s: float = setting(
        5.0, "Seconds a police search, view or export query may run before it is cut off.",
        "--query-timeout", minimum=0.1)
    photo_library: str = setting(
        "", "The reader vendor's WLT photo decoder library (.so); empty: the stay page says "
        "未配置照片解码.", "--photo-library", env=PHOTO_LIBRARY_ENV, kind="file")
    photo_licence_code: int = setting(
        0, "The vendor's per-customer code passed to the photo decoder.",
        "--photo-licence-code", env=PHOTO_LICENCE_ENV, minimum=0)
    photo_timeout_s: float = setting(
        2.0, "Seconds a photo decoder call may take before the photo counts as undecodable.",
        "--photo-timeout", minimum=0.1)
    login_user_limit: int = setting(
        5, "Failed logins per username within --login-window before a lock.",
        "--login-attempts")
    login_address_limit: int = setting(
        30, "Failed logins per client address within --login-window before a lock.",
        "--login-address-attempts")
    login_window_s: int = setting(15 * 60, "Seconds over which failed logins are counted.",
                                  "--login-window")
    login_lockout_s: int = setting(
        5 * 60, "Seconds of the first login lock; each further lock doubles it ...",
        "--login-lockout")
    login_max_lockout_s: int = setting(60 * 60, "... up to this many seconds.",
                                       "--login-lockout-max")
    api_token_ttl_s: int = setting(
        90 * 86400, "Lifetime of an API token an administrator issues (on /users or with "
        "`anju central user api-token`), 1m to 366d.", "--api-token-ttl", env=TOKEN_TTL_ENV,
        kind="duration", shown="90d")
    reason_min_chars: int = setting(
        4, "A search/view/export reason needs at least this many characters (refuses "
        "placeholders like 核查).", "--reason-min-chars", env=REASON_MIN_CHARS_ENV)
    reason_pattern: str = setting(
        "", r"A regular expression every reason must contain, e.g. a case number format "
        r"such as '[A-Z]\d{4}-\d+'; empty: none.", "--reason-pattern", env=REASON_PATTERN_ENV)
    # Retention (`anju central purge`, central/stays/retention.py, central/devices/history.py).
    retention_days: int = setting(
        0, "Keep stays first seen within this many days (rounded to whole months, up), with "
        "their guests, events (photos), feed records and day reports. Required: there is no "
        "built-in retention (0: not set, the purge refuses).", "--retention-days",
        env=RETENTION_ENV, minimum=0, command="purge")
    heartbeat_retention_days: int = setting(
        7, "Keep terminals' heartbeats received within this many days (each terminal's latest "
        "is kept whatever its age: the fleet page shows it).", "--heartbeat-retention-days",
        env=HEARTBEAT_RETENTION_ENV, minimum=1, command="purge")
    purge_statement_timeout_s: float = setting(
        1800.0, "Seconds one statement of the purge may run: a province's month of feed records "
        "or day of heartbeats is one delete. A database that hangs meanwhile is still found "
        "within seconds (the purge runs a watchdog).", "--statement-timeout", minimum=1,
        command="purge")

    def __post_init__(self) -> None:
        for row in dataclasses.fields(self):
            minimum = row.metadata["minimum"]
            if minimum is not None and getattr(self, row.name) < minimum:
                raise ValueError(f"{row.name} must be >= {minimum:g}, "
                                 f"got {getattr(self, row.name)!r}")
        if self.photo_library and not os.path.isabs(self.photo_library):
            raise ValueError(f"photo_library must be an absolute path, got {self.photo_library}")
        if not 60 <= self.api_token_ttl_s <= 366 * 86400:
            raise ValueError("api_token_ttl_s must be between 1 minute and 366 days")
        self.throttle_policy()  # validates the login limits
        self.db_bounds()  # validates the database bounds
        self.reason_rule()  # validates the reason rule

    @property
    def limits(self) -> Limits:
        """What the server accepts: the protocol's limits with this server's batch bounds."""
        return dataclasses.replace(DEFAULT_LIMITS, max_body_bytes=self.max_body_bytes,
                                   max_events=self.max_events)

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
