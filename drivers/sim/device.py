"""The simulated reader's sans-IO core: request bytes in, answers out; no I/O, no clock, no thread.

    host bytes ──receive(data, host_rate)──> [Transmission | Unplug, ...]
                  RequestDecoder -> SamState (protocol) -> Wire (faults drawn per answer)

Two shells drive the same core, so a fault plan and seed behave alike in both:

* `SimulatedReader` (idcard.py): a pseudo-terminal and a thread in real time, for the demo, the
  CLI, the bench and the end-to-end tests through pyserial;
* `SimLink` (link.py): an in-memory serial line in virtual time, for the reader loop's tests.

A shell sends each `Transmission` after its `delay` (through `wire.on_line()`, which garbles it
if the host's rate changed meanwhile), and on `Unplug` makes the device vanish for that long and
calls `unplugged()`. Requests are answered in the order received; requests that follow an
`Unplug` in the same bytes are lost with the device. Card placements change through `place()`,
`remove()` or a schedule advanced by `advance(now)`; the shell's clock says what `now` is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from drivers.idcard.codec import (
    READ_BASE,
    READ_BASE_FINGERPRINT,
    SELECT_CARD,
    Request,
    RequestDecoder,
    Response,
    Status,
    command_for,
)
from drivers.sim.faults import FaultInjector, FaultPlan
from drivers.sim.sam import DEFAULT_SAM_ID, CardLeftMode, SamState, SimCard
from drivers.sim.schedule import CardSchedule, Step
from drivers.sim.wire import SimStats, Transmission, Wire

log = logging.getLogger(__name__)

_CARD_COMMANDS = frozenset({SELECT_CARD, READ_BASE, READ_BASE_FINGERPRINT})
_HOST_CHECKSUM_ERROR = Response(Status.HOST_CHECKSUM_ERROR).to_bytes()
_HOST_LENGTH_ERROR = Response(Status.HOST_LENGTH_ERROR).to_bytes()


@dataclass(frozen=True, slots=True)
class Unplug:
    """The `unplug` fault: the device vanishes for `seconds`, then re-enumerates."""

    seconds: float


Output = Transmission | Unplug


class SimDevice:
    """One simulated GA 467 reader. Not thread-safe: a shell serialises calls into it."""

    def __init__(
        self,
        *,
        baud: int = 115200,
        card_left_mode: CardLeftMode = "answers",
        sam_id: bytes = DEFAULT_SAM_ID,
        sam_status: Status = Status.SUCCESS,
        faults: FaultPlan | str | None = None,
        seed: int | None = None,
        enforce_baud: bool = True,
        pace: bool = False,
        card_seconds: float = 0.0,
    ) -> None:
        plan = faults if isinstance(faults, FaultPlan) else FaultPlan.parse(faults)
        self.sam = SamState(
            sam_id=sam_id, card_left_mode=card_left_mode, baud=baud, sam_status=sam_status
        )
        self.faults = FaultInjector(plan, seed)
        self.stats = SimStats()
        self.wire = Wire(self.faults, self.stats, enforce_baud=enforce_baud, pace=pace)
        self.card_seconds = card_seconds
        self._decoder = RequestDecoder()
        self._schedule: CardSchedule | None = None

    # ---- the card ----------------------------------------------------------------------------

    def place(self, card: SimCard) -> None:
        """Put a card on the reader (cancels any script or cycle)."""
        self._schedule = None
        self.sam.place(card)

    def remove(self) -> None:
        self._schedule = None
        self.sam.remove()

    def script(self, steps: Iterable[Step]) -> None:
        """Play (card or None, seconds) steps once from the next `advance()`; the last one stays."""
        self._schedule = CardSchedule.once(steps)

    def cycle(self, cards: Sequence[SimCard], present: float, absent: float) -> None:
        """Forever: each card on the reader for `present` s, then an empty reader for `absent` s."""
        self._schedule = CardSchedule.cycling(cards, present, absent)

    def advance(self, now: float) -> None:
        """Apply the schedule's step due at `now` (monotonic seconds of the shell's clock)."""
        due = self._schedule.due(now, self._stretch) if self._schedule else None
        if due is not None:
            card = due[0]
            if card is None:
                self.sam.remove()
            else:
                self.sam.place(card)

    def _stretch(self, card: SimCard) -> float:
        """The `left` fault: this guest leaves the card on the reader for longer."""
        return self.faults.plan.left_factor if self.faults.happens("left") else 1.0

    # ---- the line ----------------------------------------------------------------------------

    def unplugged(self) -> None:
        """The shell made the device vanish: re-enumeration re-powers the SAM, bytes are lost."""
        self._decoder.reset()
        self.sam.power_cycle()
        self.stats.unplugs += 1

    def receive(self, data: bytes, host_rate: int | None) -> list[Output]:
        """Bytes the host sent at `host_rate` (None: unknown) -> what the device does, in order."""
        if not self.wire.rate_matches(self.sam.baud, host_rate):
            # At the wrong rate the UART only sees framing errors: nothing decodes, no answer.
            self.stats.garbled_bytes += len(data)
            self._decoder.reset()
            return []
        out: list[Output] = []
        stats = self._decoder.stats
        bad_checksum, bad_length = stats.bad_checksum, stats.bad_length
        requests = self._decoder.feed(data)
        rate = self.sam.baud
        for _ in range(stats.bad_checksum - bad_checksum):
            out.append(self.wire.transmission(_HOST_CHECKSUM_ERROR, rate))
        if stats.bad_length > bad_length:  # one bad header may be counted twice while hunting
            out.append(self.wire.transmission(_HOST_LENGTH_ERROR, rate))
        for request in requests:
            answer = self._answer(request)
            if answer is not None:
                out.append(answer)
                if isinstance(answer, Unplug):
                    break  # the rest of the bytes went down with the device
        return out

    def _answer(self, request: Request) -> Output | None:
        self.stats.requests += 1
        faults = self.faults
        if faults.happens("unplug"):
            return Unplug(faults.plan.unplug_seconds)
        if faults.happens("drop"):
            self.stats.dropped += 1
            return None
        command = command_for(request)
        transient = None
        delay = 0.0
        if command in _CARD_COMMANDS:
            if faults.happens("transient"):
                transient = faults.transient_status(is_select=command is SELECT_CARD)
            delay = self.card_seconds
        rate = self.sam.baud  # before handling: a set-baud acknowledgement uses the old rate
        response = self.sam.handle(request, transient)
        log.debug("request %02X %02X -> %s", request.cmd, request.para, response.status)
        if self.sam.baud != rate:
            log.info("simulated SAM now at %d bps", self.sam.baud)
        return self.wire.transmission(response.to_bytes(), rate, delay)
