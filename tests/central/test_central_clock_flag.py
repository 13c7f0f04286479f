"""A device whose clock claims to be synchronised but is impossible (central/devices/event_time.py),
on both backends: an event stamped in the year 9999 was stored as checked in then and came first in
every newest-first police list."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from central import clock
from central.devices import event_time
from sync.fields import format_utc, parse_utc
from sync.protocol import SenderClock
from tests.central.central_helpers import Admin, fetch
from tests.central.police_helpers import api_token, id_number, make_user, unique_name
from tests.sync.wire_helpers import EventChain, guest

FAR = datetime(9999, 1, 1, tzinfo=UTC)


def newest_first(central: Admin, name: str) -> list[str]:
    user = make_user(central.engine, "officer")
    token = api_token(central.engine, user.username)
    reply = fetch(
        "GET",
        central.url + "/api/v1/search",
        params={"name": name, "reason": "案件 2026-012"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply.status_code == 200, reply.text
    return [s["stay_id"] for s in reply.json()["stays"]]


def test_a_synchronised_clock_in_the_year_9999_is_flagged_and_not_pinned_first(
    central: Admin,
) -> None:
    boot, mono_now = "boot-far", 7_200 * 10**9

    def sender_clock() -> SenderClock:  # the request itself is signed with a sane clock
        return SenderClock(format_utc(datetime.now(UTC)), True, mono_now, boot)

    client = central.enrolled(sender_clock=sender_clock)
    assert client.credentials is not None
    device, site = client.credentials.device_id, client.credentials.site_code
    name = unique_name()
    honest = EventChain(
        device, site, boot_id="an-earlier-boot", wall=datetime.now(UTC) - timedelta(hours=2)
    )
    yesterday = honest.check_in("101", [guest(name, id_number())])
    anchored = EventChain(
        device, site, boot_id=boot, wall=FAR, monotonic_ns=mono_now - 61 * 10**9
    )  # 60 s before sending
    anchored.sequence, anchored.previous = honest.sequence, honest.previous
    far_same_boot = anchored.check_in("102", [guest(name, id_number())])
    stray = EventChain(device, site, boot_id="a-boot-never-seen", wall=FAR)
    stray.sequence, stray.previous = anchored.sequence, anchored.previous
    far_no_anchor = stray.check_in("103", [guest(name, id_number())])
    before = time.time()
    client.send_events([yesterday, far_same_boot, far_no_anchor])
    after = time.time()

    rows = {r["event_id"]: r for r in central.rows("events", device_id=device)}
    assert rows[yesterday.event_id]["time_source"] == event_time.DEVICE
    corrected = rows[far_same_boot.event_id]
    assert corrected["time_source"] == event_time.FAR_MONOTONIC
    assert abs(parse_utc(corrected["corrected_time"]).timestamp() - (before - 60)) < 5
    assert corrected["wall_time"] == far_same_boot.wall_time  # what the device said is kept
    arrival = rows[far_no_anchor.event_id]
    assert arrival["time_source"] == event_time.FAR_ARRIVAL
    assert before - 1 <= parse_utc(arrival["corrected_time"]).timestamp() <= after + 1

    # Newest first: the honest stay of two hours ago is not pushed below year-9999 stays; each
    # flagged stay sorts by its corrected time (the arrival one, the latest bound, first).
    ids = newest_first(central, name)
    assert ids == [far_no_anchor.stay_id, far_same_boot.stay_id, yesterday.stay_id]
    (stay,) = central.rows("stays", stay_id=far_same_boot.stay_id)
    assert stay["time_corrected"] and stay["checked_in_at"].startswith(str(datetime.now(UTC).year))


def test_a_synchronised_clock_before_the_protocol_existed_is_flagged(central: Admin) -> None:
    client, chain = central.device()
    chain.wall = datetime(1970, 1, 1, tzinfo=UTC)  # claims NTP, boots at the epoch
    event = chain.check_in()
    client.send_events([event])
    (row,) = central.rows("events", event_id=event.event_id)
    assert row["time_source"] in clock.FAR
    assert parse_utc(row["corrected_time"]) >= event_time.PROTOCOL_EPOCH


def test_the_bounds_are_what_the_docs_say() -> None:
    """A few minutes of honest skew is no flag; an unsynchronised future time is capped too."""
    arrived = datetime(2026, 6, 1, 12, tzinfo=UTC)
    chain = EventChain("dev-x", "4401060001", boot_id="b", wall=arrived + timedelta(minutes=4))
    skewed = chain.check_in()
    assert event_time.corrected_time(skewed, {}, arrived) == (skewed.wall_time, event_time.DEVICE)
    chain.wall = arrived + timedelta(minutes=6)
    late = chain.check_in()
    assert event_time.corrected_time(late, {}, arrived) == (format_utc(arrived),
                                                           event_time.FAR_ARRIVAL)
    chain.synchronised = False
    chain.wall = arrived + timedelta(days=1)
    unsynced = chain.check_in()
    assert event_time.corrected_time(unsynced, {}, arrived)[1] == event_time.FAR_ARRIVAL
    chain.wall = datetime(1970, 1, 1, tzinfo=UTC)
    old = chain.check_in()  # unsynchronised and in the past: kept, flagged as unverified
    assert event_time.corrected_time(old, {}, arrived) == (old.wall_time, event_time.UNCORRECTED)
