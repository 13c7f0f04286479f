"""Time at the server: `utc_now()`, the one clock every record's server time is read from, and
Beijing time for people.

Stored times are UTC (the wire format); officers read and type China Standard Time (UTC+8 all
year, no daylight saving), so pages, CSV and date filters convert here. The API keeps UTC
ISO 8601, for machines.

An event's `time_source` says how its stored time was found; central/devices/event_time.py
decides it from the device's clock, the stays' state and the police pages read it:

    device        the device clock was synchronised: its wall time is kept
    monotonic     corrected through an anchor of the same boot
    uncorrected   no anchor for that boot: the wall time is kept, flagged as unverified
    far_monotonic, far_arrival   the device's clock was impossible (FAR)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from sync.fields import format_utc

BEIJING = timezone(timedelta(hours=8), "CST")
DEVICE, MONOTONIC, UNCORRECTED = "device", "monotonic", "uncorrected"
FAR_MONOTONIC, FAR_ARRIVAL = "far_monotonic", "far_arrival"
FAR = (FAR_MONOTONIC, FAR_ARRIVAL)  # the device's clock was flagged


def utc_now() -> datetime:
    return datetime.now(UTC)


def show(stamp: str | None) -> str:
    """`2025-04-01T10:00:00.000000Z` -> `2025-04-01 18:00:00`; None -> ``."""
    if not stamp:
        return ""
    # fromisoformat and isoformat, not strptime and strftime: 4x faster, and a CSV shows two
    # times per stay (10,000 stays: 290 ms of strptime). Display only: the wire is checked
    # strictly where it enters (sync/fields.py).
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp  # not a time: show it as it is rather than fail the page
    if moment.tzinfo is None:
        return stamp
    return moment.astimezone(BEIJING).replace(tzinfo=None).isoformat(" ", "seconds")


def day_start_utc(day: str, plus_days: int = 0) -> str:
    """The UTC stamp of 00:00 Beijing time on `day` (YYYY-MM-DD) plus `plus_days`."""
    start = datetime.combine(date.fromisoformat(day) + timedelta(days=plus_days),
                             datetime.min.time(), BEIJING)
    return format_utc(start)
