"""Card placements over time: a script played once, or a card file cycled for the demo.

A schedule is a sequence of steps `(card or None, seconds)`: None means an empty reader. The
simulator thread calls `due(now)` on every poll tick; times are monotonic. The `left` fault
stretches a placement (a guest who leaves the card on the reader) through `stretch`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence

from drivers.sim.sam import SimCard

Step = tuple[SimCard | None, float]  # a card (or None: the reader is empty) for so many seconds


class CardSchedule:
    def __init__(self, steps: Iterator[Step]) -> None:
        self._steps = steps
        self._step_ends = 0.0  # the first step is due at once
        self.finished = False

    @classmethod
    def once(cls, steps: Iterable[Step]) -> CardSchedule:
        return cls(iter(list(steps)))

    @classmethod
    def cycling(cls, cards: Sequence[SimCard], present: float, absent: float) -> CardSchedule:
        """Forever: each card for `present` seconds, then an empty reader for `absent` seconds."""
        if not cards:
            raise ValueError("cycle: expected at least one card")
        steps: list[Step] = []
        for card in cards:
            steps += [(card, present), (None, absent)]
        return cls(itertools.cycle(steps))

    def due(self, now: float, stretch: Callable[[SimCard], float]) -> tuple[SimCard | None] | None:
        """The placement to apply now, as a 1-tuple (the card or None), or None if nothing is due.

        `stretch(card)` returns the factor for a placement's duration (1.0 normally). After the
        last step of a script the reader keeps its state and `finished` becomes True.
        """
        if self.finished or now < self._step_ends:
            return None
        step = next(self._steps, None)
        if step is None:
            self.finished = True
            return None
        card, seconds = step
        self._step_ends = now + seconds * (stretch(card) if card is not None else 1.0)
        return (card,)
