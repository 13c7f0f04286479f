"""The reader loop against the simulated reader on an in-memory line, in virtual time.

The shipped `SerialTransport` and `CardReader` talk to the same `SimDevice` the pty simulator
wraps (drivers/sim/link.py), with every fault of the plan; only the kernel and the wall clock
are replaced. A poll that waits out a timeout moves the virtual clock, not the test, so the full
fault matrix runs here in both card-left modes; test_idcard_reader_e2e.py keeps one test per
fault family through a real pseudo-terminal and pyserial.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from drivers.idcard.codec import Status
from drivers.idcard.reader import CardReader, ReaderSettings, ReaderStatus
from drivers.idcard.reading import CardRead, CardType
from drivers.idcard.state import ReaderState
from drivers.idcard.transport import SerialTransport, Timeouts
from drivers.sim.device import SimDevice
from drivers.sim.link import SimLink, VirtualClock
from drivers.sim.sam import SimCard, load_sim_cards

# The pty tests' settings, so that a slow answer can outlast its timeout here as well (a late
# answer reaching the next exchange is a case the transport must survive).
FAST = ReaderSettings(poll_interval=0.02, reconnect_min=0.05, reconnect_max=0.2)
QUICK_TIMEOUTS = Timeouts(short=0.25, read=0.5, probe=0.15)
FAULTS = [
    "noise:0.5", "split:1.0", "corrupt:0.2", "slow:0.3", "drop:0.1", "transient:0.3",
    "noise:0.3,split:0.5,corrupt:0.1,slow:0.1,drop:0.05,transient:0.2",
]  # fmt: skip
MAX_POLLS = 2000  # a bound on a wait, in polls: virtual seconds cost nothing


@pytest.fixture(scope="module")
def cards() -> list[SimCard]:
    return load_sim_cards()


class Bench:
    """A CardReader polled from the test, over a SimLink; each poll then waits its interval."""

    def __init__(
        self,
        device: SimDevice,
        settings: ReaderSettings = FAST,
        timeouts: Timeouts = QUICK_TIMEOUTS,
    ) -> None:
        self.device = device
        self.clock = VirtualClock()
        self.link = SimLink(device, self.clock)
        self.readings: list[CardRead] = []
        self.states: list[ReaderState] = []
        self.transport = SerialTransport(
            self.link.url, timeouts=timeouts, opener=self.link.open, clock=self.clock
        )
        self.reader = CardReader(
            self.transport, self.readings.append, settings=settings, on_status=self._status,
            clock=self.clock,
        )  # fmt: skip

    def _status(self, status: ReaderStatus) -> None:
        if not self.states or self.states[-1] != status.state:
            self.states.append(status.state)

    def poll(self, count: int = 1) -> None:
        """`count` rounds of `CardReader.run()`: a poll, then the rest of the poll interval."""
        for _ in range(count):
            started = self.clock()
            self.reader.poll_once()
            elapsed = self.clock() - started
            self.clock.advance(max(self.reader.settings.poll_interval - elapsed, 0.0))

    def poll_until(self, predicate: Callable[[], bool], max_polls: int = MAX_POLLS) -> None:
        for _ in range(max_polls):
            if predicate():
                return
            self.poll()
        raise AssertionError(
            f"not reached in {max_polls} polls; states {self.states}, readings "
            f"{len(self.readings)}, status {self.reader.status}"
        )

    def state_is(self, state: ReaderState) -> Callable[[], bool]:
        return lambda: self.reader.status.state == state


@pytest.mark.parametrize("mode", ["answers", "silent"])
def test_one_reading_per_placement_whether_or_not_find_keeps_answering(
    mode: str, cards: list[SimCard]
) -> None:
    bench = Bench(SimDevice(card_left_mode=mode))
    bench.poll_until(bench.state_is(ReaderState.IDLE))
    bench.device.place(cards[0])
    bench.poll_until(lambda: len(bench.readings) == 1)
    bench.poll(15)  # the card stays on the reader for many polls
    assert len(bench.readings) == 1
    bench.device.remove()
    bench.poll_until(bench.state_is(ReaderState.IDLE))
    bench.device.place(cards[0])  # the same card placed again is a new placement
    bench.poll_until(lambda: len(bench.readings) == 2)
    bench.device.remove()
    bench.device.place(cards[1])
    bench.poll_until(lambda: len(bench.readings) == 3)
    expected = [cards[0].photo, cards[0].photo, cards[1].photo]
    assert [r.photo_wlt for r in bench.readings] == expected


@pytest.mark.parametrize("mode", ["answers", "silent"])
def test_card_swapped_without_a_gap_is_a_new_reading(mode: str, cards: list[SimCard]) -> None:
    bench = Bench(SimDevice(card_left_mode=mode))
    bench.device.place(cards[0])
    bench.poll_until(lambda: len(bench.readings) == 1)
    bench.device.place(cards[2])  # replaced between two polls
    bench.poll_until(lambda: len(bench.readings) == 2)
    assert bench.readings[0].id_number != bench.readings[1].id_number


def test_every_layout_decodes_with_sam_id(cards: list[SimCard]) -> None:
    bench = Bench(SimDevice())
    for index, card in enumerate(cards):
        bench.device.place(card)
        bench.poll_until(lambda index=index: len(bench.readings) == index + 1)
        bench.device.remove()
        bench.poll_until(bench.state_is(ReaderState.IDLE))
    kinds = {(r.card_type, r.card_version) for r in bench.readings}
    assert kinds >= {
        (CardType.RESIDENT, None),
        (CardType.HK_MO_TW_RESIDENCE, None),
        (CardType.FOREIGN_PERMANENT, "2017"),
        (CardType.FOREIGN_PERMANENT, "2023"),
    }
    assert all(r.sam_id == "05.01-20101117-0001234567-3000000000" for r in bench.readings)
    assert [r.photo_wlt for r in bench.readings] == [c.photo for c in cards]


@pytest.mark.parametrize("baud", [57600, 38400, 19200, 9600])
def test_baud_probe_finds_a_reader_left_at_another_rate(baud: int, cards: list[SimCard]) -> None:
    bench = Bench(SimDevice(baud=baud))
    bench.poll_until(lambda: bench.reader.status.connected)
    assert bench.reader.status.baud == baud
    assert bench.device.stats.garbled_bytes > 0  # the rates before it were really tried
    bench.device.place(cards[0])
    bench.poll_until(lambda: len(bench.readings) == 1)


@pytest.mark.parametrize("faults", FAULTS)
@pytest.mark.parametrize("mode", ["answers", "silent"])
def test_exactly_one_reading_per_card_under_faults(
    faults: str, mode: str, cards: list[SimCard]
) -> None:
    placements = cards[:4]
    if mode == "silent" and "transient" in faults:
        # A reader that goes quiet for a held card can only be asked with direct reads; a card
        # whose reads fail `absent_polls` times in a row is indistinguishable from a lifted one.
        # Keep such failures at a realistic rate for this mode.
        faults = faults.replace("transient:0.3", "transient:0.05").replace(
            "transient:0.2", "transient:0.05"
        )
    settings = ReaderSettings(
        poll_interval=0.02, reconnect_min=0.05, reconnect_max=0.2, replace_after=50,
        absent_polls=3,
    )  # fmt: skip
    bench = Bench(SimDevice(faults=faults, seed=7, card_left_mode=mode), settings)
    for index, card in enumerate(placements):
        bench.device.place(card)
        bench.poll_until(lambda index=index: len(bench.readings) == index + 1)
        bench.poll(5)
        bench.device.remove()
        bench.poll_until(bench.state_is(ReaderState.IDLE))
    assert [r.photo_wlt for r in bench.readings] == [c.photo for c in placements]
    # The faults really happened on the line the reader saw.
    decoder = bench.transport.decoder_stats
    if "noise" in faults:
        assert decoder.discarded > 0
    if "drop" in faults:
        assert bench.device.stats.dropped > 0


def test_the_shipped_timings_read_through_every_fault(cards: list[SimCard]) -> None:
    """The defaults the service runs with (0.3 s polls, 1-2 s timeouts), costing no real time."""
    spec = "noise:0.3,split:0.5,corrupt:0.1,slow:0.1,drop:0.05,transient:0.2"
    bench = Bench(SimDevice(faults=spec, seed=3), ReaderSettings(replace_after=50), Timeouts())
    for index, card in enumerate(cards[:4]):
        bench.device.place(card)
        bench.poll_until(lambda index=index: len(bench.readings) == index + 1)
        bench.device.remove()
        bench.poll_until(bench.state_is(ReaderState.IDLE))
    assert [r.photo_wlt for r in bench.readings] == [c.photo for c in cards[:4]]


def test_repeated_failures_ask_to_replace_the_card(cards: list[SimCard]) -> None:
    bench = Bench(SimDevice(faults="transient:1.0", seed=3))
    bench.device.place(cards[0])
    bench.poll_until(bench.state_is(ReaderState.REPLACE))
    assert bench.readings == []
    assert bench.reader.status.failures >= FAST.replace_after
    bench.device.remove()
    bench.poll_until(bench.state_is(ReaderState.IDLE))


def test_unplug_and_replug_while_polling_resumes_without_restart(cards: list[SimCard]) -> None:
    bench = Bench(SimDevice())
    bench.device.place(cards[0])
    bench.poll_until(lambda: len(bench.readings) == 1)
    bench.link.unplug()
    bench.poll_until(bench.state_is(ReaderState.DISCONNECTED))
    assert not bench.reader.status.connected
    bench.poll(20)  # retries with backoff while the device is gone
    bench.link.replug()  # the card still on the reader
    bench.poll_until(lambda: bench.reader.status.connected)
    bench.poll_until(bench.state_is(ReaderState.HOLDING))
    bench.poll(10)
    assert len(bench.readings) == 1  # the same card still in place: the same placement
    bench.device.remove()
    bench.device.place(cards[1])
    bench.poll_until(lambda: len(bench.readings) == 2)
    assert bench.reader.status.reconnects == 1
    assert ReaderState.DISCONNECTED in bench.states


def test_unplug_fault_neither_loses_nor_repeats_a_reading(cards: list[SimCard]) -> None:
    device = SimDevice(faults="unplug:0.1", seed=4)
    bench = Bench(device)
    for index, card in enumerate(cards[:4]):
        device.place(card)
        bench.poll_until(lambda index=index: len(bench.readings) == index + 1)
        device.remove()
        bench.poll_until(bench.state_is(ReaderState.IDLE))
    assert device.stats.unplugs > 0
    # Every unplug ends in a reconnect, unless the next one came during the connect itself.
    assert 1 <= bench.reader.status.reconnects <= device.stats.unplugs
    assert [r.photo_wlt for r in bench.readings] == [c.photo for c in cards[:4]]


def test_sam_fault_is_reported_not_retried_in_a_tight_loop() -> None:
    bench = Bench(SimDevice(sam_status=Status.SAM_NOT_AUTHORISED), ReaderSettings())
    bench.poll_until(bench.state_is(ReaderState.FAULT))
    assert "not authorised" in (bench.reader.status.last_error or "")
    requests_before = bench.device.stats.requests
    bench.poll(round(10.0 / 0.3))  # ten seconds of polls
    # Backoff 0.5, 1, 2, 4 s: a handful of re-probes (one request each), not one per poll.
    assert bench.device.stats.requests - requests_before <= 5
