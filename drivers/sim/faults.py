"""Seeded wire and card faults for the reader simulator, declared as a small plan.

A spec string names the faults, each with an optional probability::

    "noise,split,corrupt:0.1,slow:0.2"

==========  ===============================================================  ================
fault       what happens (probability is drawn per ...)                     default p
==========  ===============================================================  ================
noise       garbage bytes, stray AA/96/69 included, before a response        0.2  per answer
split       the response written in 1-64 byte chunks with tiny gaps          0.5  per answer
corrupt     the response's checksum byte flipped                             0.05 per answer
slow        the answer delayed 50-400 ms                                     0.2  per answer
drop        the request ignored entirely (no answer at all)                  0.05 per request
transient   select/read answered 0x81/0x31 or 0x41/0x31/0x33                 0.1  per select/read
left        a cycled card stays on the reader `left_factor` times longer     0.3  per placement
unplug      the pty vanishes for `unplug_seconds`, then a new one appears    0.01 per request
==========  ===============================================================  ================

All randomness comes from one `random.Random(seed)`, so a failing run replays exactly (given the
same sequence of requests). `FaultPlan` is an immutable value; `FaultInjector` owns the generator.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from drivers.idcard.codec import PREAMBLE, Status

DEFAULT_PROBABILITY: dict[str, float] = {
    "noise": 0.2,
    "split": 0.5,
    "corrupt": 0.05,
    "slow": 0.2,
    "drop": 0.05,
    "transient": 0.1,
    "left": 0.3,
    "unplug": 0.01,
}
FAULT_NAMES = tuple(DEFAULT_PROBABILITY)

_SYNC = PREAMBLE[1:]  # what a host decoder synchronises on; noise must never contain it
_STRAY = (b"\xaa", b"\xaa\xaa", b"\xaa\xaa\xaa\x96", b"\x96\x69", b"\x69", b"\x96")
_SELECT_TRANSIENT = (Status.SELECT_FAILED, Status.CARD_AUTH_SAM_FAILED)
_READ_TRANSIENT = (Status.READ_FAILED, Status.CARD_AUTH_SAM_FAILED, Status.VERIFICATION_ERROR)


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Probabilities per fault (0 = off) plus the few knobs that shape them."""

    noise: float = 0.0
    split: float = 0.0
    corrupt: float = 0.0
    slow: float = 0.0
    drop: float = 0.0
    transient: float = 0.0
    left: float = 0.0
    unplug: float = 0.0
    slow_seconds: tuple[float, float] = (0.05, 0.4)
    unplug_seconds: float = 1.0
    left_factor: float = 3.0

    def __post_init__(self) -> None:
        for name in FAULT_NAMES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"fault {name}: expected a probability in [0, 1], got {value}")

    @classmethod
    def parse(cls, spec: str | None) -> FaultPlan:
        """`"noise,corrupt:0.1"` -> a plan; empty or None means no faults."""
        chosen: dict[str, float] = {}
        for item in (spec or "").split(","):
            item = item.strip()
            if not item:
                continue
            name, _, value = item.partition(":")
            name = name.strip().lower()
            if name not in DEFAULT_PROBABILITY:
                known = ", ".join(FAULT_NAMES)
                raise ValueError(f"fault: expected one of {known}, got {name!r}")
            try:
                chosen[name] = float(value) if value else DEFAULT_PROBABILITY[name]
            except ValueError as err:
                raise ValueError(f"fault {name}: expected a number, got {value!r}") from err
        return cls(**chosen)

    @property
    def active(self) -> tuple[str, ...]:
        return tuple(name for name in FAULT_NAMES if getattr(self, name) > 0)

    def __str__(self) -> str:
        return ",".join(f"{name}:{getattr(self, name):g}" for name in self.active) or "none"


NO_FAULTS = FaultPlan()


class FaultInjector:
    """Draws the plan's faults from one seeded generator; used only by the simulator thread."""

    def __init__(self, plan: FaultPlan = NO_FAULTS, seed: int | None = None) -> None:
        self.plan = plan
        self.rng = random.Random(seed)

    def happens(self, name: str) -> bool:
        probability: float = getattr(self.plan, name)
        # Draw only for active faults, so enabling one fault does not reshuffle another's draws.
        return probability > 0 and self.rng.random() < probability

    def noise(self) -> bytes:
        """1-24 garbage bytes with preamble fragments, never a whole sync sequence."""
        out = bytearray()
        for _ in range(self.rng.randint(1, 6)):
            if self.rng.random() < 0.4:
                out += self.rng.choice(_STRAY)
            else:
                out += self.rng.randbytes(self.rng.randint(1, 4))
        # A full sync inside noise could make the host swallow the real frame that follows as
        # the body of a bogus one; a real line glitch almost never forges one, so break it.
        while (index := out.find(_SYNC)) >= 0:
            out[index + 1] = 0x00
        return bytes(out)

    def chunks(self, frame: bytes) -> list[tuple[bytes, float]]:
        """Split a frame into (chunk, pause after it) pairs, as a USB-serial bridge delivers."""
        pieces: list[tuple[bytes, float]] = []
        offset = 0
        while offset < len(frame):
            size = self.rng.choice((1, 7, 32, 64, self.rng.randint(1, 64)))
            pieces.append((frame[offset : offset + size], self.rng.uniform(0.0, 0.004)))
            offset += size
        return pieces

    def corrupt(self, frame: bytes) -> bytes:
        return frame[:-1] + bytes([frame[-1] ^ self.rng.randint(1, 0xFF)])

    def slow_delay(self) -> float:
        low, high = self.plan.slow_seconds
        return self.rng.uniform(low, high)

    def transient_status(self, is_select: bool) -> Status:
        return self.rng.choice(_SELECT_TRANSIENT if is_select else _READ_TRANSIENT)

    def garble(self, frame: bytes, ratio: float) -> bytes:
        """What a receiver at the wrong rate makes of `frame`: a different count of junk bytes.

        `ratio` is receiver rate / sender rate. Junk never contains 0xAA, so it cannot forge a
        preamble (a real line could, but then the checksum would still reject it).
        """
        count = max(1, round(len(frame) * min(ratio, 4.0)))
        return bytes(self.rng.choice(range(0x00, 0xAA)) for _ in range(count))
