"""Time as the terminal records it: UTC wall time, clock synchronised or not, monotonic, boot id.

A Raspberry Pi has no battery clock, so after a power cut the wall clock is wrong until NTP
answers. Every event therefore stores the wall time together with `clock_synchronised`, the
monotonic time and the boot id, which lets the server correct times recorded before the sync.

Synchronisation is read from the kernel with adjtimex(2) in read-only mode (modes = 0), the same
source timedatectl's NTPSynchronized uses, because it is a syscall (microseconds) and a check-in
must not wait for a subprocess. If adjtimex is unavailable the answer of
`timedatectl show -p NTPSynchronized` is used, cached for a minute; if neither works the clock
counts as not synchronised: claiming a trustworthy time we cannot vouch for would be worse.

Trust (docs/time.md): a reading is *trusted* only when the clock is synchronised and plausible,
i.e. not earlier than this release's date (BUILD_DATE) nor than the newest event already stored.
While it is not, the registry still registers every guest: checks that depend on "today" only
warn (terminal/domain/checks.py), judged against the latest day we can vouch for.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol

_TIME_ERROR = 5  # adjtimex return value: clock not synchronised
_STA_UNSYNC = 0x0040
_TIMEDATECTL_CACHE_S = 60.0

# The day this release was cut: no true clock reading on a box running it is earlier. Bump it
# with each release (tests/terminal/test_clock_policy.py fails if it lies in the future of the
# newest commit, which would make every true clock look wrong).
BUILD_DATE = date(2026, 11, 28)
NOT_BEFORE = datetime(BUILD_DATE.year, BUILD_DATE.month, BUILD_DATE.day, tzinfo=UTC)
# NTP may step a fast clock back a little, and systemd-timesyncd's saved clock (written every
# 60 s) may restore a time slightly before the last event: within this, it is not "going back".
STEP_BACK_TOLERANCE = timedelta(minutes=2)
TRUSTED, UNSYNCHRONISED, IMPLAUSIBLE = "trusted", "unsynchronised", "implausible"


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    # struct timex from <sys/timex.h>; the trailing padding is part of the kernel ABI.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_padding", ctypes.c_int * 11),
    ]


def _load_adjtimex() -> object | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.adjtimex
    except (OSError, AttributeError):
        return None


_adjtimex = _load_adjtimex()


def kernel_synchronised() -> bool | None:
    """The kernel's view via adjtimex; None when the call is unavailable or fails."""
    if _adjtimex is None:
        return None
    timex = _Timex()
    state = _adjtimex(ctypes.byref(timex))  # type: ignore[operator]
    if state < 0:
        return None
    return state != _TIME_ERROR and not (timex.status & _STA_UNSYNC)


_timedatectl_cache: tuple[float, bool | None] | None = None


def timedatectl_synchronised() -> bool | None:
    """`timedatectl show -p NTPSynchronized`, cached; None when systemd cannot answer."""
    global _timedatectl_cache
    now = time.monotonic()
    if _timedatectl_cache and now - _timedatectl_cache[0] < _TIMEDATECTL_CACHE_S:
        return _timedatectl_cache[1]
    try:
        out = subprocess.run(
            ["timedatectl", "show", "-p", "NTPSynchronized"],
            capture_output=True, text=True, timeout=2, check=True,
        ).stdout.strip()
        answer: bool | None = {"NTPSynchronized=yes": True, "NTPSynchronized=no": False}.get(out)
    except (OSError, subprocess.SubprocessError):
        answer = None
    _timedatectl_cache = (now, answer)
    return answer


def read_boot_id(path: Path = Path("/proc/sys/kernel/random/boot_id")) -> str:
    """The kernel's boot id; "unknown" off Linux, so events still carry a value."""
    try:
        return path.read_text("ascii").strip() or "unknown"
    except OSError:
        return "unknown"


@dataclass(frozen=True, slots=True)
class Instant:
    """One reading of every clock, taken together for one event."""

    wall: datetime  # timezone-aware UTC
    synchronised: bool
    monotonic_ns: int
    boot_id: str


class Clock(Protocol):
    not_before: datetime  # earliest plausible wall time: the release date (tests may lower it)

    def now(self) -> Instant: ...


@dataclass(frozen=True, slots=True)
class Trust:
    """How far a reading can be believed, and the latest moment we can vouch for."""

    state: str  # TRUSTED | UNSYNCHRONISED | IMPLAUSIBLE
    reference: datetime  # the reading when trusted; else max(reading, floor)

    @property
    def trusted(self) -> bool:
        return self.state == TRUSTED


def assess(instant: Instant, *, not_before: datetime, newest_event: datetime | None) -> Trust:
    """Judge one reading against the release date and the newest stored event's time.

    Implausible wins over unsynchronised: a synchronised claim earlier than what we already
    know is a broken time source (a wrong NTP server, a faked clock), worth a technician.
    """
    floor = max(not_before, newest_event or not_before)
    implausible = instant.wall < not_before or (
        newest_event is not None and instant.wall < newest_event - STEP_BACK_TOLERANCE)
    if implausible:
        state = IMPLAUSIBLE
    elif not instant.synchronised:
        state = UNSYNCHRONISED
    else:
        return Trust(TRUSTED, instant.wall)
    return Trust(state, max(instant.wall, floor))


class SystemClock:
    """The real clocks of this machine."""

    def __init__(self, not_before: datetime = NOT_BEFORE) -> None:
        self.boot_id = read_boot_id()
        self.not_before = not_before

    def synchronised(self) -> bool:
        kernel = kernel_synchronised()
        if kernel is not None:
            return kernel
        return bool(timedatectl_synchronised())

    def now(self) -> Instant:
        return Instant(
            wall=datetime.now(UTC),
            synchronised=self.synchronised(),
            monotonic_ns=time.monotonic_ns(),
            boot_id=self.boot_id,
        )


class FixedClock:
    """A settable clock for tests and the fixture generator; advances 1 ms per reading.

    Its `not_before` defaults to 2000-01-01 so fixtures dated before the release stay plausible;
    tests of the clock policy pass the real NOT_BEFORE.
    """

    def __init__(
        self, wall: datetime, synchronised: bool = True, boot_id: str = "test-boot",
        not_before: datetime = datetime(2000, 1, 1, tzinfo=UTC),
    ) -> None:
        self.wall = wall
        self.synchronised = synchronised
        self.boot_id = boot_id
        self.not_before = not_before
        self.monotonic_ns = 1_000_000_000

    def now(self) -> Instant:
        self.wall += timedelta(milliseconds=1)
        self.monotonic_ns += 1_000_000
        return Instant(self.wall, self.synchronised, self.monotonic_ns, self.boot_id)


class AdvancedMonotonic:
    """`time.monotonic()` plus an offset that only grows: the waits of a simulated terminal
    (`anju terminal run --simulate`, whose `POST /sim/advance` moves it on), so that a demo or a
    test sees a sign-in wait end without sitting through it. Never behind the real clock; a
    counter saved ahead of it restarts its wait at the next start (the store's counters are
    never loaded into the future), as one from an earlier boot does."""

    def __init__(self) -> None:
        self._offset_s = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset_s

    def advance(self, seconds: float) -> None:
        if not seconds >= 0:  # also refuses NaN
            raise ValueError(f"time only moves on: got {seconds!r} s")
        with self._lock:
            self._offset_s += seconds
