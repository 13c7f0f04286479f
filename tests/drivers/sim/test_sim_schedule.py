"""Card schedules: scripts and cycles against a fake clock, and the `left` fault end to end."""

from __future__ import annotations

import time

import pytest
import serial

from drivers.idcard import codec
from drivers.idcard.codec import ResponseDecoder, Status
from drivers.sim.faults import FaultPlan
from drivers.sim.idcard import SimulatedReader
from drivers.sim.sam import load_sim_cards
from drivers.sim.schedule import CardSchedule

CARDS = load_sim_cards()
A, B = CARDS[0], CARDS[1]


def never_left(card: object) -> float:
    return 1.0


def test_script_plays_once_then_keeps_the_last_state() -> None:
    schedule = CardSchedule.once([(A, 1.0), (None, 2.0)])
    assert schedule.due(10.0, never_left) == (A,)
    assert schedule.due(10.9, never_left) is None
    assert schedule.due(11.0, never_left) == (None,)
    assert schedule.due(12.9, never_left) is None
    assert schedule.due(13.0, never_left) is None and schedule.finished


def test_cycle_repeats_and_left_stretches_only_placements() -> None:
    schedule = CardSchedule.cycling([A, B], present=1.0, absent=0.5)
    placements = []
    now = 0.0
    while len(placements) < 6:
        due = schedule.due(now, lambda card: 3.0)
        if due is not None:
            placements.append((now, due[0]))
        now += 0.5  # exact in binary: no drift
    assert placements == [(0.0, A), (3.0, None), (3.5, B), (6.5, None), (7.0, A), (10.0, None)]
    with pytest.raises(ValueError, match="at least one card"):
        CardSchedule.cycling([], 1.0, 1.0)


def _finds(port: serial.Serial, seconds: float) -> list[Status | None]:
    statuses: list[Status | None] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        decoder = ResponseDecoder()
        port.reset_input_buffer()
        port.write(codec.FIND_CARD.encode())
        answer = None
        limit = time.monotonic() + 1.0
        while answer is None and time.monotonic() < limit:
            frames = decoder.feed(port.read(max(port.in_waiting, 1)))
            answer = frames[0].status if frames else None
        statuses.append(answer)
    return statuses


@pytest.mark.parametrize(("left", "still_there"), [(0.0, False), (1.0, True)])
def test_left_fault_keeps_the_card_on_the_reader(left: float, still_there: bool) -> None:
    with SimulatedReader(faults=FaultPlan(left=left, left_factor=100.0), seed=1) as sim:
        sim.script([(A, 0.02), (None, 30.0)])  # left: 0.02 s becomes 2 s
        with serial.Serial(sim.port, 115200, timeout=0.02) as port:
            time.sleep(0.1)  # the scripted placement is over unless the guest left the card
            statuses = _finds(port, 0.3)
        assert (set(statuses) == {Status.CARD_FOUND}) is still_there
        assert (set(statuses) == {Status.FIND_FAILED}) is not still_there


def test_enforce_baud_off_answers_at_any_rate() -> None:
    with SimulatedReader(enforce_baud=False) as sim:
        with serial.Serial(sim.port, 9600, timeout=0.02) as port:
            assert _finds(port, 0.05)[0] == Status.FIND_FAILED
        assert sim.stats.garbled_bytes == 0
