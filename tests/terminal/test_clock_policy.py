"""Time without a real-time clock: a wrong clock never turns a guest away (docs/time.md).

The clock is injected (FixedClock with the release's real NOT_BEFORE): at 1970, months stale,
and jumping forward and back while the registry runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from drivers.idcard.reading import Sex
from terminal.desk.registry import Registry
from terminal.domain.guests import Guardian
from terminal.errors import BlockedError
from terminal.system import clock as clockmod
from terminal.system.clock import (
    BUILD_DATE,
    IMPLAUSIBLE,
    NOT_BEFORE,
    TRUSTED,
    UNSYNCHRONISED,
    FixedClock,
    Instant,
    assess,
)
from tests.terminal.registry_helpers import card_guest, registry

EPOCH = datetime(1970, 1, 1, 0, 0, 5, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def reading(wall: datetime, synchronised: bool) -> Instant:
    return Instant(wall, synchronised, 1, "boot")


def check_in_data(reg: Registry, stay_id: str) -> dict:
    with reg.store.reader() as conn:
        payload = conn.execute(
            "SELECT payload FROM events WHERE stay_id = ? ORDER BY seq_id", (stay_id,)
        ).fetchone()[0]
    return json.loads(payload)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(EPOCH, synchronised=False, not_before=NOT_BEFORE)


@pytest.fixture
def reg(tmp_path: Path, clock: FixedClock) -> Iterator[Registry]:
    registry_ = registry(tmp_path / "terminal.db", clock=clock)
    try:
        yield registry_
    finally:
        registry_.store.close()


# -- the judgement --------------------------------------------------------------------------


def test_a_synchronised_plausible_reading_is_trusted_as_it_is() -> None:
    now = NOT_BEFORE + timedelta(days=30)
    trust = assess(reading(now, True), not_before=NOT_BEFORE, newest_event=now - timedelta(1))
    assert (trust.state, trust.reference) == (TRUSTED, now)


def test_1970_is_implausible_even_when_the_kernel_claims_synchronised() -> None:
    for synchronised in (False, True):
        trust = assess(reading(EPOCH, synchronised), not_before=NOT_BEFORE, newest_event=None)
        assert (trust.state, trust.reference) == (IMPLAUSIBLE, NOT_BEFORE)


def test_a_stale_unsynchronised_clock_is_judged_at_the_newest_event() -> None:
    newest = NOT_BEFORE + timedelta(days=200)
    stale = newest - timedelta(minutes=1)  # timesyncd's saved clock: just before the power cut
    trust = assess(reading(stale, False), not_before=NOT_BEFORE, newest_event=newest)
    assert (trust.state, trust.reference) == (UNSYNCHRONISED, newest)


def test_a_synchronised_clock_earlier_than_the_newest_event_is_implausible() -> None:
    newest = NOT_BEFORE + timedelta(days=200)
    back = newest - clockmod.STEP_BACK_TOLERANCE - timedelta(seconds=1)
    trust = assess(reading(back, True), not_before=NOT_BEFORE, newest_event=newest)
    assert (trust.state, trust.reference) == (IMPLAUSIBLE, newest)
    small_step = newest - clockmod.STEP_BACK_TOLERANCE + timedelta(seconds=1)
    assert (
        assess(reading(small_step, True), not_before=NOT_BEFORE, newest_event=newest).state
        == TRUSTED
    )


def test_the_build_date_is_not_after_the_newest_commit() -> None:
    """A build date in the future would make every true clock look implausible."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(
        ["git", "-C", str(ROOT), "log", "-1", "--format=%cs"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert date.fromisoformat(out) >= BUILD_DATE


# -- registrations at 1970 ------------------------------------------------------------------


def test_a_normal_adult_registers_at_1970_and_the_event_says_how_it_was_checked(reg) -> None:
    saved = reg.check_in(room="101", guests=[card_guest()], operator="C01")
    assert not [f for f in saved.findings if f.blocks]
    doc = check_in_data(reg, saved.stay_id)
    assert doc["wall_time"].startswith("1970-01-01")  # the time stays honest
    assert doc["clock_synchronised"] is False
    assert doc["data"]["date_checks"] == {
        "clock": IMPLAUSIBLE,
        "checked_against": BUILD_DATE.isoformat(),
        "downgraded": [],
        "confirmed_by_clerk": False,
    }


def test_a_minor_with_a_guardian_registers_at_1970(reg) -> None:
    minor = card_guest(birth=BUILD_DATE.replace(year=BUILD_DATE.year - 10), serial=7)
    guardian = Guardian(name="李四", phone="13800000000", relationship="parent", contacted=True)
    from dataclasses import replace

    saved = reg.check_in(
        room="102",
        guests=[replace(minor, guardian=guardian, relationship="parent")],
        operator="C01",
    )
    assert not [f for f in saved.findings if f.blocks or f.needs_confirm]
    assert check_in_data(reg, saved.stay_id)["data"]["date_checks"]["clock"] == IMPLAUSIBLE


def test_date_rules_at_1970_are_warnings_the_clerk_confirms_and_are_recorded_so(reg) -> None:
    # Birth date after the release date: "in the future" only if today is the release date.
    late = BUILD_DATE + timedelta(days=3)
    guest = card_guest(birth=late, serial=3, valid_until=BUILD_DATE - timedelta(days=1))
    with pytest.raises(BlockedError) as caught:
        reg.check_in(room="103", guests=[guest], operator="C01")
    waiting = {f.code for f in caught.value.findings if f.needs_confirm}
    assert {"guest.birth_date_future", "document.expired", "minor.unaccompanied"} <= waiting
    assert not [f for f in caught.value.findings if f.blocks]
    assert "出生日期" in caught.value.message_zh  # the refusal names what to confirm

    saved = reg.check_in(room="103", guests=[guest], operator="C01", dates_confirmed=True)
    recorded = {f["code"]: f for f in check_in_data(reg, saved.stay_id)["data"]["findings"]}
    for code in waiting:
        assert recorded[code]["severity"] == "warn"
        assert recorded[code]["downgraded_from"] == "block"
        assert recorded[code]["downgraded_because"] == IMPLAUSIBLE
    checks = check_in_data(reg, saved.stay_id)["data"]["date_checks"]
    assert checks["confirmed_by_clerk"] is True and set(waiting) <= set(checks["downgraded"])
    overrides = check_in_data(reg, saved.stay_id)["data"]["overrides"]
    assert {o["code"] for o in overrides} == set()  # confirmed as a whole, not one by one


def test_non_date_rules_still_block_at_1970(reg) -> None:
    with pytest.raises(BlockedError) as caught:
        reg.check_in(room=" ", guests=[card_guest()], operator="C01", dates_confirmed=True)
    assert [f.code for f in caught.value.findings if f.blocks] == ["room.missing"]


# -- months stale, and jumps while running --------------------------------------------------


def test_months_stale_checks_against_the_newest_event(reg, clock: FixedClock) -> None:
    clock.wall, clock.synchronised = NOT_BEFORE + timedelta(days=300), True
    reg.check_in(room="201", guests=[card_guest(serial=11)], operator="C01")
    # Power cut, box on a shelf; it boots with timesyncd's saved clock, months behind.
    clock.wall, clock.synchronised = NOT_BEFORE + timedelta(days=120), False
    newest_day = (NOT_BEFORE + timedelta(days=300)).astimezone(reg.zone).date()
    # 18 by the newest event's day, still 17 by the stale clock: an adult, no minor rule.
    birth = newest_day.replace(year=newest_day.year - 18) - timedelta(days=1)
    saved = reg.check_in(room="202", guests=[card_guest(birth=birth, serial=12)], operator="C01")
    assert not [f for f in saved.findings if f.code.startswith("minor.")]
    checks = check_in_data(reg, saved.stay_id)["data"]["date_checks"]
    # Months before the newest stored event: not merely unsynchronised, implausible.
    assert checks == {
        "clock": IMPLAUSIBLE,
        "checked_against": newest_day.isoformat(),
        "downgraded": [],
        "confirmed_by_clerk": False,
    }
    # The page asks the same question (who is a minor) and gets the same day.
    day, trust = reg.today()
    assert (day, trust.state) == (newest_day, IMPLAUSIBLE)


def test_a_clock_jumping_forward_and_back_keeps_registering(reg, clock: FixedClock) -> None:
    start = NOT_BEFORE + timedelta(days=10)
    clock.wall, clock.synchronised = start, True
    first = reg.check_in(room="301", guests=[card_guest(serial=21)], operator="C01")
    assert "date_checks" not in check_in_data(reg, first.stay_id)["data"]  # trusted
    clock.wall = start + timedelta(days=365)  # a wrong NTP answer: forward a year
    jumped = reg.check_in(room="302", guests=[card_guest(serial=22)], operator="C01")
    assert check_in_data(reg, jumped.stay_id)["wall_time"].startswith(
        f"{(start + timedelta(days=365)).year}"
    )  # recorded as read: the server judges it
    clock.wall = start + timedelta(minutes=5)  # corrected back: earlier than the newest event
    back = reg.check_in(room="303", guests=[card_guest(serial=23)], operator="C01")
    assert check_in_data(reg, back.stay_id)["data"]["date_checks"]["clock"] == IMPLAUSIBLE
    # The newest event (by sequence) is now the corrected one: trusted again from here on.
    again = reg.check_in(room="304", guests=[card_guest(serial=24)], operator="C01")
    assert "date_checks" not in check_in_data(reg, again.stay_id)["data"]


def test_a_trusted_clock_still_blocks_a_future_birth_date(reg, clock: FixedClock) -> None:
    clock.wall, clock.synchronised = NOT_BEFORE + timedelta(days=10), True
    future = (NOT_BEFORE + timedelta(days=40)).date()
    with pytest.raises(BlockedError) as caught:
        reg.check_in(
            room="401",
            guests=[card_guest(birth=future, sex=Sex.FEMALE, serial=31)],
            operator="C01",
            dates_confirmed=True,
        )
    assert "guest.birth_date_future" in [f.code for f in caught.value.findings if f.blocks]


def test_a_simulated_terminals_monotonic_clock_only_runs_ahead() -> None:
    advanced = clockmod.AdvancedMonotonic()
    before = advanced()
    advanced.advance(300)
    assert advanced() >= before + 300  # a five-minute wait is over at once
    for backwards in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="time only moves on"):
            advanced.advance(backwards)
    assert advanced() >= before + 300
