"""The bounds on every wait for PostgreSQL, as settings (applied by central/db/pgbounds.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL

WAIT_MARGIN_S = 2.0  # beyond statement_timeout, so the server's own error normally comes first


@dataclass(frozen=True, slots=True)
class DbBounds:
    connect_timeout_s: int = 3
    statement_timeout_s: float = 10.0  # 0 = no limit, on the server and in the client
    lock_timeout_s: float = 5.0
    pool_timeout_s: float = 3.0
    keepalives_idle_s: int = 10
    keepalives_interval_s: int = 3
    keepalives_count: int = 3

    def __post_init__(self) -> None:
        if self.connect_timeout_s < 2:  # libpq and psycopg raise anything lower to 2
            raise ValueError("the database connect timeout must be at least 2 s")
        if self.statement_timeout_s < 0 or self.lock_timeout_s < 0 or self.pool_timeout_s <= 0:
            raise ValueError("database timeouts must be >= 0 (the pool timeout > 0)")

    @property
    def wait_s(self) -> float | None:
        """The client's bound on one wait for the server; None when statements are unbounded."""
        return self.statement_timeout_s + WAIT_MARGIN_S if self.statement_timeout_s else None

    def connect_args(self, url: URL) -> dict[str, Any]:
        """libpq parameters, each unless the URL sets it itself (the URL wins)."""
        args: dict[str, Any] = {
            "connect_timeout": self.connect_timeout_s,
            "keepalives": 1,
            "keepalives_idle": self.keepalives_idle_s,
            "keepalives_interval": self.keepalives_interval_s,
            "keepalives_count": self.keepalives_count,
            # Unacknowledged data for this long closes the connection (Linux TCP_USER_TIMEOUT).
            "tcp_user_timeout": 1000
            * (self.keepalives_idle_s + self.keepalives_interval_s * self.keepalives_count),
        }
        return {k: v for k, v in args.items() if k not in url.query}
