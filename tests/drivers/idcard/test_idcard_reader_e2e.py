"""The reader loop against the simulator over real pseudo-terminals: one reading per placement.

The end-to-end set: the shipped stack through pyserial on a real pty, with the simulator in its
own thread, in real time. One test per fault family (the wire's bytes, the answer's timing, the
card's transient failures), the baud probe through the pty's termios, and a USB re-enumeration.
The whole fault matrix, in both card-left modes, and every other reader-loop case run in
test_idcard_reader.py against the same simulated device on an in-memory line in virtual time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from drivers.idcard.reader import CardReader, ReaderSettings, ReaderStatus
from drivers.idcard.reading import CardRead
from drivers.idcard.transport import SerialTransport, Timeouts
from drivers.sim.idcard import SimulatedReader
from drivers.sim.sam import SimCard, load_sim_cards

FAST = ReaderSettings(poll_interval=0.02, reconnect_min=0.05, reconnect_max=0.2)
QUICK_TIMEOUTS = Timeouts(short=0.25, read=0.5, probe=0.15)


@pytest.fixture(scope="module")
def cards() -> list[SimCard]:
    return load_sim_cards()


class Harness:
    """A CardReader polling in its own thread, collecting readings and states."""

    def __init__(self, sim: SimulatedReader, settings: ReaderSettings = FAST) -> None:
        self.readings: list[CardRead] = []
        self.states: list[str] = []
        self._changed = threading.Condition()
        transport = SerialTransport(sim.port, timeouts=QUICK_TIMEOUTS)
        self.reader = CardReader(
            transport, self._card, settings=settings, on_status=self._status
        )

    def _card(self, card: CardRead) -> None:
        with self._changed:
            self.readings.append(card)
            self._changed.notify_all()

    def _status(self, status: ReaderStatus) -> None:
        with self._changed:
            if not self.states or self.states[-1] != status.state:
                self.states.append(status.state)
            self._changed.notify_all()

    def wait(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        with self._changed:
            assert self._changed.wait_for(predicate, timeout), (
                f"timed out; states {self.states}, readings {len(self.readings)}, "
                f"status {self.reader.status}"
            )

    def wait_polls(self, count: int) -> None:
        """Let the loop run `count` more polls (time-based: polls are not observable otherwise)."""
        time.sleep(count * (self.reader.settings.poll_interval + 0.01))


@pytest.fixture
def harness_for() -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(sim: SimulatedReader, settings: ReaderSettings = FAST) -> Harness:
        harness = Harness(sim, settings)
        harness.reader.start()
        made.append(harness)
        return harness

    yield make
    for harness in made:
        harness.reader.stop()


def test_one_reading_per_placement_of_a_card_left_on_a_silent_reader(
    cards: list[SimCard], harness_for: Callable[..., Harness]
) -> None:
    with SimulatedReader(card_left_mode="silent") as sim:
        harness = harness_for(sim)
        harness.wait(lambda: harness.reader.status.state == "idle")
        sim.place(cards[0])
        harness.wait(lambda: len(harness.readings) == 1)
        harness.wait_polls(15)  # the card stays on the reader for many polls
        assert len(harness.readings) == 1
        sim.remove()
        harness.wait(lambda: harness.reader.status.state == "idle")
        sim.place(cards[0])  # the same card placed again is a new placement
        harness.wait(lambda: len(harness.readings) == 2)
        sim.remove()
        sim.place(cards[1])
        harness.wait(lambda: len(harness.readings) == 3)
    expected = [cards[0].photo, cards[0].photo, cards[1].photo]
    assert [r.photo_wlt for r in harness.readings] == expected


def test_baud_probe_finds_a_reader_left_at_another_rate(
    cards: list[SimCard], harness_for: Callable[..., Harness]
) -> None:
    baud = 9600  # the last rate probed: every other rate's junk crosses the pty first
    with SimulatedReader(baud=baud) as sim:
        harness = harness_for(sim)
        harness.wait(lambda: harness.reader.status.connected, timeout=15)
        assert harness.reader.status.baud == baud
        sim.place(cards[0])
        harness.wait(lambda: len(harness.readings) == 1)


@pytest.mark.parametrize(
    ("mode", "faults"),
    [
        ("answers", "noise:0.5,split:1.0,corrupt:0.2"),  # the bytes on the wire
        ("silent", "slow:0.1,drop:0.05"),  # when (and whether) an answer comes
        ("answers", "transient:0.3"),  # the card failing a select or read
    ],
)
def test_exactly_one_reading_per_card_under_faults(
    faults: str, mode: str, cards: list[SimCard], harness_for: Callable[..., Harness]
) -> None:
    placements = cards[:2]  # the matrix with four placements each: test_idcard_reader.py
    with SimulatedReader(faults=faults, seed=7, card_left_mode=mode) as sim:
        settings = ReaderSettings(
            poll_interval=0.02, reconnect_min=0.05, reconnect_max=0.2, replace_after=50,
            absent_polls=3,
        )
        harness = harness_for(sim, settings)
        for index, card in enumerate(placements):
            sim.place(card)
            harness.wait(lambda index=index: len(harness.readings) == index + 1, timeout=20)
            harness.wait_polls(5)
            sim.remove()
            harness.wait(lambda: harness.reader.status.state == "idle", timeout=20)
    assert len(harness.readings) == len(placements)
    assert [r.photo_wlt for r in harness.readings] == [c.photo for c in placements]


def test_unplug_and_replug_while_polling_resumes_without_restart(
    cards: list[SimCard], harness_for: Callable[..., Harness]
) -> None:
    with SimulatedReader() as sim:
        harness = harness_for(sim)
        sim.place(cards[0])
        harness.wait(lambda: len(harness.readings) == 1)
        sim.unplug()
        harness.wait(lambda: harness.reader.status.state == "disconnected")
        assert not harness.reader.status.connected
        sim.replug()  # a new pty behind the same stable link, the card still on the reader
        harness.wait(lambda: harness.reader.status.connected, timeout=15)
        harness.wait(lambda: harness.reader.status.state == "holding")
        harness.wait_polls(10)
        assert len(harness.readings) == 1  # the same card still in place: the same placement
        sim.remove()
        sim.place(cards[1])
        harness.wait(lambda: len(harness.readings) == 2)
        assert harness.reader.status.reconnects == 1
    assert "disconnected" in harness.states
