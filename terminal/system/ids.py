"""UUIDv7 identifiers (RFC 9562 §5.7), monotonic within a process.

    0                   1                   2                   3
    |          unix_ts_ms (48 bits)                 |ver 0111| rand_a (12): counter |
    |var 10| rand_b (62 bits, random)                                               |

Monotonicity follows RFC 9562 §6.2 method 1 (a fixed-length counter in rand_a): within one
millisecond the counter increments; it is seeded randomly with its top bit clear so that there
is headroom before it overflows, and on overflow (or when the wall clock steps backwards, as it
does on a Raspberry Pi after NTP corrects a wrong boot time) the timestamp is advanced by one
millisecond instead. Ids therefore sort in creation order within a process even across clock
steps; across processes they sort by time only, which is all the store needs (the per-device
sequence number, not the id, orders events).
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_COUNTER_MAX = 0xFFF
_RANDOM_CHUNK = 512  # bytes of os.urandom read at once: one getrandom call per ~50 ids
_lock = threading.Lock()
_last_ms = 0
_counter = 0
_random = b""
_random_at = 0


def _reset_after_fork() -> None:
    # A forked child must not continue the parent's counter with the same random bits, nor use
    # the random bytes the parent has buffered (both would make the same ids).
    global _last_ms, _counter, _random, _random_at
    _last_ms, _counter, _random, _random_at = 0, 0, b"", 0


os.register_at_fork(after_in_child=_reset_after_fork)


def _random_bits(count: int) -> int:
    """`count` (at most 64) bits from the process's buffer of os.urandom; caller holds _lock."""
    global _random, _random_at
    if _random_at + 8 > len(_random):
        _random, _random_at = os.urandom(_RANDOM_CHUNK), 0
    word = int.from_bytes(_random[_random_at:_random_at + 8], "big")
    _random_at += 8
    return word >> (64 - count)


def _next(now_ms: int | None = None) -> int:
    """The 128-bit value of a new UUIDv7, strictly greater than the previous one."""
    global _last_ms, _counter
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    with _lock:
        if ms > _last_ms:
            _last_ms, _counter = ms, _random_bits(11)
        else:
            _counter += 1
            if _counter > _COUNTER_MAX:
                _last_ms, _counter = _last_ms + 1, _random_bits(11)
        ms, counter, rand_b = _last_ms, _counter, _random_bits(62)
    return (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand_b


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    """A new UUIDv7, strictly greater than the previous one made by this process."""
    return uuid.UUID(int=_next(now_ms))


def new_id() -> str:
    """A UUIDv7 as the canonical 36-character lower-case string used in records.

    Formatted here rather than through uuid.UUID: this runs for every event, stay and guest.
    """
    h = f"{_next():032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def timestamp_ms(value: uuid.UUID | str) -> int:
    """The Unix milliseconds embedded in a UUIDv7."""
    as_uuid = value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    return as_uuid.int >> 80
