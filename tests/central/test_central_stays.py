"""What the police side reads: corrected times and the folded state of each stay."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from central.stays import state
from sync.fields import format_utc, parse_utc
from sync.protocol import SenderClock
from tests.central.central_helpers import Admin
from tests.sync.wire_helpers import EventChain, guest


def test_unsynchronised_event_times_are_corrected_through_the_boot(central: Admin) -> None:
    # The device booted with its clock at 2000-01-01 and never reached NTP; monotonic time
    # runs true. Its sender clock shares the boot of the events.
    wrong_wall = datetime(2000, 1, 1, tzinfo=UTC)
    boot, mono_now = "boot-without-ntp", 900 * 10**9

    def sender_clock() -> SenderClock:
        return SenderClock(format_utc(wrong_wall), False, mono_now, boot)

    client = central.enrolled(sender_clock=sender_clock)
    assert client.credentials is not None
    device, site = client.credentials.device_id, client.credentials.site_code
    chain = EventChain(device, site, boot_id=boot, synchronised=False, wall=wrong_wall,
                       monotonic_ns=mono_now - 62 * 10**9)  # next event: 60 s before sending
    unsynced = chain.check_in()
    other_boot = EventChain(device, site, boot_id="an-older-boot", synchronised=False,
                            wall=wrong_wall)
    other_boot.sequence, other_boot.previous = chain.sequence, chain.previous
    uncorrectable = other_boot.check_in()
    synced = EventChain(device, site, synchronised=True)
    synced.sequence, synced.previous = other_boot.sequence, other_boot.previous
    trusted = synced.check_in()
    before = time.time()
    client.send_events([unsynced, uncorrectable, trusted])
    rows = {r["event_id"]: r for r in central.rows("events", device_id=device)}
    corrected = rows[unsynced.event_id]
    assert corrected["time_source"] == "monotonic"
    assert abs(parse_utc(corrected["corrected_time"]).timestamp() - (before - 60)) < 5
    assert corrected["wall_time"] == unsynced.wall_time  # the device's record is kept as sent
    assert abs(corrected["clock_offset_ms"] - (before - wrong_wall.timestamp()) * 1000) < 5000
    assert (rows[uncorrectable.event_id]["time_source"],
            rows[uncorrectable.event_id]["corrected_time"]) == ("uncorrected",
                                                                uncorrectable.wall_time)
    assert (rows[trusted.event_id]["time_source"],
            rows[trusted.event_id]["corrected_time"]) == ("device", trusted.wall_time)
    (stay,) = central.rows("stays", stay_id=unsynced.stay_id)
    assert stay["time_corrected"] and stay["checked_in_at"] == corrected["corrected_time"]


def test_stay_state_is_folded_whatever_order_its_events_arrive_in(central: Admin) -> None:
    client, chain = central.device()
    main = guest("张三", "440104199005170011")
    check_in = chain.check_in(room="203", guests=[main])
    friend = guest("李四", "440104199107070022", role="companion")
    add = chain.event("add_guest", check_in.stay_id, {"guest": friend})
    amend = chain.event("amend", check_in.stay_id, {"field": "room", "old": "203", "new": "205",
                                                   "reason": "typo"},
                        target_event_id=check_in.event_id)
    out = chain.event("check_out", check_in.stay_id,
                      {"guest_ids": [main["guest_id"], friend["guest_id"]]})
    client.send_events([out, amend])  # check-out first: the stay is known but incomplete
    (stay,) = central.rows("stays", stay_id=check_in.stay_id)
    assert not stay["complete"]
    client.send_events([add, check_in])
    (stay,) = central.rows("stays", stay_id=check_in.stay_id)
    assert (stay["room"], stay["status"], stay["complete"], stay["event_count"]) == (
        "205", "checked_out", True, 4)
    assert stay["checked_in_at"] == check_in.wall_time
    assert stay["checked_out_at"] == out.wall_time and not stay["time_corrected"]
    guests = {g["document_number"]: g for g in central.rows("stay_guests",
                                                            stay_id=check_in.stay_id)}
    assert guests["440104199005170011"]["name"] == "张三"
    assert guests["440104199107070022"]["role"] == "companion"
    assert all(g["checked_out_at"] == out.wall_time for g in guests.values())
    # Searchable by document number.
    (found,) = central.rows("stay_guests", document_number="440104199107070022")
    assert found["stay_id"] == check_in.stay_id


def test_void_ends_a_stay(central: Admin) -> None:
    client, chain = central.device()
    check_in = chain.check_in()
    void = chain.event("void", check_in.stay_id, {"reason": "wrong guest"},
                       target_event_id=check_in.event_id)
    client.send_events([check_in, void])
    (stay,) = central.rows("stays", stay_id=check_in.stay_id)
    assert (stay["status"], stay["voided_at"]) == ("voided", void.wall_time)


def test_a_stay_folded_from_its_first_batch_is_the_one_its_stored_events_give(
        central: Admin) -> None:
    # Ingest folds a stay that its batch claims from the batch's own rows (nothing of it is
    # stored yet: central/stays/state.py); folding it again from what was stored must give
    # the same stay and guests, row for row.
    client, chain = central.device()
    check_in = chain.check_in(room="301", guests=[
        guest("王五", "440104199005170033"),
        guest("Smith John", "E12345678", role="companion", nationality="GBR")])
    added = chain.event("add_guest", check_in.stay_id,
                        {"guest": guest("赵六", "440104199107070044", role="companion")})
    amend = chain.event("amend", check_in.stay_id,
                        {"field": "room", "old": "301", "new": "302", "reason": "typo"},
                        target_event_id=check_in.event_id)
    client.send_events([added, check_in, amend, chain.check_out(check_in)])  # one batch

    def projection() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        return (central.rows("stays", stay_id=check_in.stay_id),
                sorted(central.rows("stay_guests", stay_id=check_in.stay_id),
                       key=lambda g: g["guest_id"]))

    from_batch = projection()
    assert from_batch[0][0]["room"] == "302" and len(from_batch[1]) == 3
    with central.engine.begin() as conn:
        state.refold(conn, [check_in.stay_id], from_batch[0][0]["updated_at"])
    assert projection() == from_batch
