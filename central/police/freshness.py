"""How fresh the data of a police search is, when it ran on a standby (`--read-db`).

A streaming standby replays the primary's changes with some delay. `read(conn)`, in the
search's own transaction, asks the standby: has it replayed all it received, is it receiving
(streaming), and when was the last change it replayed committed on the primary. The page
then says how old the data may be; searches on the primary have no such note.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, text

_STANDBY = text(
    "SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp(), "
    "pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn(), "
    "EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'), now()"
)


@dataclass(frozen=True, slots=True)
class Freshness:
    standby: bool
    as_of: datetime | None  # commit time of the last change replayed (UTC)
    lag_s: float  # 0 when all received is replayed and streaming; inf: nothing replayed yet
    streaming: bool
    stale_after_s: float

    @property
    def stale(self) -> bool:
        return not self.streaming or self.lag_s > self.stale_after_s

    @property
    def as_of_text(self) -> str | None:
        return self.as_of.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if self.as_of else None

    def to_json(self) -> dict[str, object]:
        return {
            "source": "standby" if self.standby else "primary",
            "as_of": self.as_of_text,
            "lag_s": round(self.lag_s, 1) if math.isfinite(self.lag_s) else None,
            "streaming": self.streaming,
            "stale": self.stale,
        }


def read(conn: Connection, stale_after_s: float) -> Freshness | None:
    """None on SQLite (no standby there)."""
    if conn.dialect.name != "postgresql":
        return None
    standby, replayed_at, caught_up, streaming, now = conn.execute(_STANDBY).one()
    if not standby:
        return Freshness(False, None, 0.0, True, stale_after_s)
    behind = (
        0.0
        if caught_up and streaming
        else ((now - replayed_at).total_seconds() if replayed_at else float("inf"))
    )
    return Freshness(True, replayed_at, max(0.0, behind), bool(streaming), stale_after_s)
