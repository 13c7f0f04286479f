"""The watchdog pings only while every loop that matters shows progress.

systemd restarts a `WatchdogSec=` service that stops sending WATCHDOG=1. Pinging from any one
loop proves only that loop: the front desk's event loop kept pinging while its reader thread was
stuck in a callback, so a desk that could no longer read a card looked healthy. Here each
monitored loop has a deadline (a monotonic time by which it must show progress again) and the
pinger thread pings only while no deadline has passed:

    reader loop   its last poll + READER_BOUND_S (one poll is bounded by the transport's timeouts)
    store writer  the start of the transaction in progress + WRITER_BOUND_S; none while idle
    event loop    a task beats every second; the page and its event streams run there
    upload loop   beats before every wait and request, declaring how long that step may take

A loop past its deadline is named in STATUS= (`systemctl status` shows it) and in the log once;
the pings stop and systemd restarts the service WatchdogSec after the last one. Outside systemd
(no WATCHDOG_USEC) nothing runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from terminal.system import sdnotify

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Loop:
    """A monitored loop: `deadline()` is the monotonic time by which it must progress again,
    or None when it owes nothing (an idle writer)."""

    name: str
    deadline: Callable[[], float | None]


class Heartbeat:
    """A loop's own progress report: `beat(within)` = "alive now, expect me back within"."""

    def __init__(self, name: str, within: float) -> None:
        self.name = name
        self.within = within
        self._deadline = time.monotonic() + within

    def beat(self, within: float | None = None) -> None:
        self._deadline = time.monotonic() + (self.within if within is None else within)

    def deadline(self) -> float:
        return self._deadline

    @property
    def loop(self) -> Loop:
        return Loop(self.name, self.deadline)


def since(name: str, last: Callable[[], float | None], bound_s: float) -> Loop:
    """A loop that records when it last progressed (or since when it is busy): + bound."""

    def deadline() -> float | None:
        at = last()
        return None if at is None else at + bound_s

    return Loop(name, deadline)


def overdue(loops: list[Loop], now: float | None = None) -> list[str]:
    """Names of the loops past their deadline."""
    now = time.monotonic() if now is None else now
    late = []
    for loop in loops:
        deadline = loop.deadline()
        if deadline is not None and now > deadline:
            late.append(loop.name)
    return late


class Watchdog:
    """The pinger thread: WATCHDOG=1 every `interval` while no monitored loop is overdue."""

    def __init__(
        self,
        loops: list[Loop],
        interval: float | None = None,
        notify: Callable[[str], bool] = sdnotify.notify,
    ) -> None:
        self.loops = loops
        self.interval = sdnotify.watchdog_interval() if interval is None else interval
        self._notify = notify
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.late: list[str] = []

    def start(self) -> None:
        if self.interval is None:
            return  # no watchdog asked for
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def check(self) -> bool:
        """One round: ping if every loop is on time; report a change of the late set."""
        late = overdue(self.loops)
        if late != self.late:
            if late:
                log.error(
                    "watchdog: no progress from %s: pings stop, systemd will restart us",
                    ", ".join(late),
                )
                self._notify("STATUS=stalled: " + ", ".join(late))
            else:
                log.warning("watchdog: every loop progresses again")
                self._notify("STATUS=running")
            self.late = late
        if late:
            return False
        self._notify("WATCHDOG=1")
        return True

    def _run(self) -> None:
        assert self.interval is not None
        while True:
            self.check()
            if self._stop.wait(self.interval):
                return
