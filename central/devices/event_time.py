"""Measured device clock offsets, and corrected event times (server time: central/clock.py).

A Raspberry Pi boots with a wrong wall clock until NTP answers, so an event recorded with
`clock_synchronised = false` cannot be trusted for its wall time. Its monotonic time can: within
one boot (same boot_id) the monotonic clock runs steadily across wall-clock steps. Each signed
request carries the sender's clocks, read when it was sent; the server keeps the first
(server time, monotonic) pair it sees for each boot, its *anchor*, and corrects:

    corrected = anchor.server_time - (anchor.monotonic_ns - event.monotonic_ns)

    time_source  device       the device clock was synchronised: its wall time is kept
                 monotonic    corrected through an anchor of the same boot
                 uncorrected  no anchor for that boot (the device never reached the server
                              while it ran): the wall time is kept, flagged as unverified
                 far_monotonic  the device claimed a synchronised clock but its time is
                              impossible (see below): corrected through the boot's anchor
                 far_arrival  the same without an anchor, or an unsynchronised time in the
                              future: the arrival time, the one bound we know (no later)

Impossible, for a clock that claims to be synchronised: later than the arrival plus
FUTURE_BOUND (an event cannot be recorded after it arrived; 5 minutes covers any honest
skew between two NTP clocks and the request's time in flight), or earlier than PROTOCOL_EPOCH
(before protocol v1 existed, so before any terminal ran). Such an event once stood as checked
in in the year 9999 and came first in every newest-first police list; now its stay sorts by
the corrected time and the time_source flags the device's clock (docs/time.md). A past time
is not bounded otherwise: an honest terminal may deliver a week-old backlog.

The anchor is off by the one-way network delay (well under a second); the measured offset
(server receive time minus the sender's raw wall clock) is recorded per upload for the fleet view.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from central.clock import (  # the time_source vocabulary lives with the clock
    DEVICE,
    FAR_ARRIVAL,
    FAR_MONOTONIC,
    MONOTONIC,
    UNCORRECTED,
    utc_now,
)
from central.db import bulk
from central.db.tables import boot_anchors
from central.db.upsert import insert_ignore
from sync.fields import format_utc, parse_utc
from sync.protocol import SenderClock, WireEvent

FUTURE_BOUND = timedelta(minutes=5)
PROTOCOL_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
_EPOCH_TEXT = format_utc(PROTOCOL_EPOCH)


def to_ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def offset_ms(clock: SenderClock, received: datetime) -> int:
    """Server time minus the sender's raw wall clock when it sent the request."""
    return round((received - parse_utc(clock.wall_time)).total_seconds() * 1000)


def record_anchor(conn: Connection, device_id: str, clock: SenderClock, received: datetime
                  ) -> None:
    insert_ignore(conn, boot_anchors, {"device_id": device_id, "boot_id": clock.boot_id,
                                       "server_ns": to_ns(received),
                                       "monotonic_ns": clock.monotonic_ns})


def load_anchors(conn: Connection, device_id: str, boot_ids: Iterable[str]
                 ) -> dict[str, tuple[int, int]]:
    rows = bulk.select_any(
        conn, [boot_anchors.c.boot_id, boot_anchors.c.server_ns, boot_anchors.c.monotonic_ns],
        boot_anchors.c.boot_id, boot_ids, equal={boot_anchors.c.device_id: device_id})
    return {r.boot_id: (r.server_ns, r.monotonic_ns) for r in rows}


def corrected_time(event: WireEvent, anchors: dict[str, tuple[int, int]],
                   arrived: datetime | None = None) -> tuple[str, str]:
    """(corrected UTC time, time_source) for one event arriving now (or at `arrived`)."""
    arrived = arrived or utc_now()
    # The common case without parsing: a synchronised clock's time within the bounds. These
    # times are fixed-width ASCII UTC text, so their text order is their time order.
    text = event.wall_time
    if (event.clock_synchronised and text.isascii()
            and _EPOCH_TEXT <= text <= _latest_text(arrived)):
        return text, DEVICE
    wall = parse_utc(text)
    future = wall > arrived + FUTURE_BOUND
    anchor = anchors.get(event.boot_id)
    if event.clock_synchronised:
        if not future and wall >= PROTOCOL_EPOCH:
            return event.wall_time, DEVICE
        if anchor is None:
            return format_utc(arrived), FAR_ARRIVAL
        return _through(anchor, event), FAR_MONOTONIC
    if anchor is None:
        return (format_utc(arrived), FAR_ARRIVAL) if future else (event.wall_time, UNCORRECTED)
    return _through(anchor, event), MONOTONIC


@functools.lru_cache(maxsize=8)
def _latest_text(arrived: datetime) -> str:
    """The latest time a synchronised clock may show for an event arriving at `arrived`."""
    return format_utc(arrived + FUTURE_BOUND)


def _through(anchor: tuple[int, int], event: WireEvent) -> str:
    server_ns, monotonic_ns = anchor
    at_ns = server_ns - (monotonic_ns - event.monotonic_ns)
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=at_ns // 1000)
    return format_utc(moment)
