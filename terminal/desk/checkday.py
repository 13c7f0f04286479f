"""The day capture checks use, and what an event records when the clock cannot vouch for it.

The checks need "today". When the clock is trusted (synchronised and plausible,
terminal/system/clock.py) it is the reading's day in the guesthouse's zone; otherwise it is the
latest day we can vouch for (the release date, the newest stored event, the reading: whichever
is latest), the date rules become warnings (checks.downgrade) and the event keeps
`date_checks` (docs/time.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sync.fields import parse_utc
from terminal.domain import checks
from terminal.domain.checks import Finding
from terminal.store import event_chain
from terminal.system import clock
from terminal.system.clock import Instant, Trust


def today(
    conn: sqlite3.Connection, instant: Instant, not_before: datetime, zone: ZoneInfo
) -> tuple[date, Trust]:
    trust = clock.assess(instant, not_before=not_before, newest_event=newest_event_time(conn))
    return trust.reference.astimezone(zone).date(), trust


def newest_event_time(conn: sqlite3.Connection) -> datetime | None:
    """The wall time of the newest event stored with a synchronised clock.

    By sequence, not by time: an event stamped far ahead by a wrong time source stops counting
    as soon as the next synchronised event is written. Unsynchronised events do not count, so
    a stale clock after a power cut cannot lower the floor it is judged against.
    """
    stored = event_chain.newest_synchronised_wall_time(conn)
    return parse_utc(stored) if stored else None


def for_clock(findings: list[Finding], trust: Trust) -> list[Finding]:
    return findings if trust.trusted else checks.downgrade(findings, trust.state)


def note(
    data: dict[str, Any], trust: Trust, today: date, findings: Sequence[Finding], confirmed: bool
) -> None:
    """On an event checked with an untrusted clock: which clock state, against what day, and
    whether the clerk confirmed the downgraded rules (absent when the clock was trusted)."""
    if trust.trusted:
        return
    data["date_checks"] = {
        "clock": trust.state,
        "checked_against": today.isoformat(),
        "downgraded": sorted({f.code for f in findings if f.downgraded_because}),
        "confirmed_by_clerk": confirmed and any(f.needs_confirm for f in findings),
    }
