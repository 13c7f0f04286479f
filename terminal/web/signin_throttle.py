"""Failed clerk sign-ins: growing waits per client address and in all, kept in the store.

    attempt   a wait is running         -> refused; the PIN is not even compared (a right one too)
    wrong     failures + 1              -> from the `free`-th failure on, a wait of
                                           delay_s * 2^(failures - free), at most cap_s
    right     the address starts afresh (the global counter does not)

Each existing clerk account has counters of its own as well (`clerk:<staff no>`, and
`clerk:<staff no>@local` for the kiosk): a clerk's right PIN clears their address's counter
but not the failures at a colleague's account, so signing in as oneself between guesses does
not buy free guesses at the owner's PIN. Unknown staff numbers get no counter (a PIN typed
into the staff number field must not be stored).

Two counters see every wrong PIN: the client address's own (an IPv6 address by its /64, since one
machine holds a whole /64; every loopback address as the one "local") and a global one for every
address but the terminal's own. The global one stops an attacker who keeps changing addresses. It
never counts or stops the kiosk browser on the terminal itself (loopback, which nobody on the
network can send from): an attacker can hold the network's sign-in shut, one wrong PIN per
`cap_s`, but never lock the clerks out of their own desk.

A counter is forgotten `forget_s` after its wait ends (or after its last failure, before any
wait), so a mistyped PIN last week costs nothing; `forget_s` should be longer than
`global_free_attempts * cap_s`, or waiting for the reset would guess faster than the capped
wait allows (defaults: 7200 > 20 * 300).

Each sign-in is decided in one step under a lock, with no I/O between looking at the counters and
counting the failure, so parallel guesses cannot slip through a free attempt together. The page
then writes the changed counters to the store (schema v4 `login_throttle`), which a restart
reads back. Times are `time.monotonic` (a simulated terminal's run ahead on /sim/advance); a
row written in an earlier boot restarts its wait and its forgetting at load (a Pi without a
battery clock cannot tell how long it was off), so a restart or a reboot never shortens a wait.
The counters hold no PIN and no staff number but those of existing accounts.
"""

from __future__ import annotations

import ipaddress
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from terminal.store import signin_counters
from terminal.store.database import Store
from terminal.system.clock import read_boot_id

log = logging.getLogger(__name__)
GLOBAL = "global"  # every client address but the terminal's own
LOCAL = "local"  # the loopback addresses: the kiosk browser on the terminal
MAX_COUNTERS = 1000  # beyond this the oldest address counters go (the global one stays)


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    free_attempts: int = 5  # wrong PINs from one address before the first wait
    global_free_attempts: int = 20  # wrong PINs from all network addresses before they all wait
    delay_s: float = 5.0  # the first wait; each further failure doubles it
    cap_s: float = 300.0
    forget_s: float = 7200.0  # a counter is dropped this long after its wait ended

    def __post_init__(self) -> None:
        if min(self.free_attempts, self.global_free_attempts) < 1 \
                or min(self.delay_s, self.cap_s) <= 0 or self.forget_s < 0:
            raise ValueError("login throttle: attempts >= 1, delays > 0, forget_s >= 0")

    @classmethod
    def from_config(cls, config: Any) -> ThrottlePolicy:
        return cls(free_attempts=config["web.login_free_attempts"],
                   global_free_attempts=config["web.login_global_free_attempts"],
                   delay_s=config["web.login_delay_s"], cap_s=config["web.login_delay_cap_s"],
                   forget_s=config["web.login_forget_s"])

    def wait_after(self, failures: int, free: int) -> float:
        """The wait imposed by the `failures`-th wrong PIN in a row, given `free` free ones."""
        if failures < free:
            return 0.0
        exponent = failures - free
        if exponent >= 64:  # far past the cap; 2.0 ** huge would overflow
            return self.cap_s
        return min(self.cap_s, self.delay_s * 2.0 ** exponent)


@dataclass(frozen=True, slots=True)
class Counter:
    failures: int  # wrong PINs in a row
    failed_s: float  # monotonic time of the last one
    wait_s: float  # the wait it imposed (0: none yet)

    @property
    def until_s(self) -> float:
        return self.failed_s + self.wait_s

    def remaining(self, now: float) -> float:
        return max(0.0, self.until_s - now)

    def forgotten(self, now: float, forget_s: float) -> bool:
        return now >= self.until_s + forget_s


def count_failure(counter: Counter | None, policy: ThrottlePolicy, free: int, now: float
                  ) -> Counter:
    """The counter after one more wrong PIN at `now` (a forgotten one starts again at 1)."""
    failures = 1 if counter is None or counter.forgotten(now, policy.forget_s) \
        else counter.failures + 1
    return Counter(failures, now, policy.wait_after(failures, free))


def account_scope(staff_no: str, local: bool) -> str:
    """An account's counter: one for the kiosk, one for the network (which cannot hold it)."""
    return f"clerk:{staff_no}" + ("@local" if local else "")


def scope_of(host: str | None) -> str:
    """The counter of a client address: IPv4 as is, IPv6 by its /64, loopback as LOCAL."""
    try:
        address = ipaddress.ip_address(host or "")
    except ValueError:
        return f"address:{host or '?'}"
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_loopback:
        return LOCAL
    if isinstance(address, ipaddress.IPv6Address):
        return f"address:{ipaddress.IPv6Network((address, 64), strict=False)}"
    return f"address:{address}"


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool  # signed in
    refused: bool  # a wait was running: the PIN was not compared
    wait_s: float  # how long this client must wait now (0: it may try again at once)
    changes: tuple[tuple[str, Counter | None], ...] = ()  # counters to write (None: delete)


class LoginThrottle:
    def __init__(self, policy: ThrottlePolicy, *, counters: dict[str, Counter] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self.clock = clock
        self._counters = dict(counters or {})
        self._lock = threading.Lock()

    def counter(self, scope: str) -> Counter | None:
        with self._lock:
            return self._counters.get(scope)

    def _scopes(self, host: str | None, account: str | None = None) -> tuple[str, ...]:
        scope = scope_of(host)
        scopes = (scope,) if scope == LOCAL else (scope, GLOBAL)
        if account:  # the account's own counter, kept apart for the kiosk (never held by
            scopes += (account_scope(account, scope == LOCAL),)  # the network's guesses)
        return scopes

    def _remaining(self, scopes: Iterable[str], now: float) -> float:
        counters = (self._counters.get(s) for s in scopes)
        return max((c.remaining(now) for c in counters if c is not None), default=0.0)

    def wait_s(self, host: str | None, account: str | None = None) -> float:
        """How long this client must wait before its PIN will be compared again."""
        with self._lock:
            return self._remaining(self._scopes(host, account), self.clock())

    def attempt(self, host: str | None, pin_is_right: Callable[[], bool], *,
                account: str | None = None) -> Outcome:
        """Decide one sign-in: refuse during a wait, else compare the PIN and count the result.

        `account`: the existing clerk account the staff number names (None for an unknown
        one): it has its own counter, so a clerk's right PIN does not clear the guesses at
        a colleague's account."""
        with self._lock:
            now = self.clock()
            scopes = self._scopes(host, account)
            waiting = self._remaining(scopes, now)
            if waiting > 0:
                return Outcome(ok=False, refused=True, wait_s=waiting)
            if pin_is_right():
                cleared = [s for s in scopes if s != GLOBAL
                           and self._counters.pop(s, None) is not None]
                if not cleared:
                    return Outcome(ok=True, refused=False, wait_s=0.0)
                log.info("clerk signed in from %s after failed attempts", scopes[0])
                return Outcome(ok=True, refused=False, wait_s=0.0,
                               changes=tuple((s, None) for s in cleared))
            changes: list[tuple[str, Counter | None]] = []
            for scope in scopes:
                free = self.policy.global_free_attempts if scope == GLOBAL \
                    else self.policy.free_attempts
                counter = count_failure(self._counters.get(scope), self.policy, free, now)
                self._counters[scope] = counter
                changes.append((scope, counter))
                self._log_failure(scope, counter)
            changes += self._prune(now)
            return Outcome(ok=False, refused=False, wait_s=self._remaining(scopes, now),
                           changes=tuple(changes))

    def _log_failure(self, scope: str, counter: Counter) -> None:
        # Never the PIN, nor the staff number (a PIN is sometimes typed into it).
        if scope.startswith("clerk:"):  # which account stays out of the log
            if counter.wait_s:
                log.warning("clerk sign-in: %d wrong PINs in a row for one account; it waits "
                            "%.0f s", counter.failures, counter.wait_s)
            return
        if scope == GLOBAL:
            if counter.wait_s:
                log.warning("clerk sign-in: %d wrong PINs from the network in a row; every "
                            "network address waits %.0f s", counter.failures, counter.wait_s)
            return
        log.warning("clerk sign-in failed from %s (%d in a row%s)", scope, counter.failures,
                    f"; waits {counter.wait_s:.0f} s" if counter.wait_s else "")

    def _prune(self, now: float) -> list[tuple[str, Counter | None]]:
        gone = [s for s, c in self._counters.items() if c.forgotten(now, self.policy.forget_s)]
        extra = len(self._counters) - len(gone) - MAX_COUNTERS
        if extra > 0:
            oldest = sorted((c.failed_s, s) for s, c in self._counters.items()
                            if s != GLOBAL and s not in gone)
            gone += [s for _, s in oldest[:extra]]
        for scope in gone:
            del self._counters[scope]
        return [(scope, None) for scope in gone]


# ---- the store (schema v4 login_throttle) ---------------------------------------------------

def load(conn: sqlite3.Connection, *, now: float | None = None, boot_id: str | None = None
         ) -> dict[str, Counter]:
    """The counters as the store keeps them, on this boot's monotonic clock."""
    now = time.monotonic() if now is None else now
    boot_id = read_boot_id() if boot_id is None else boot_id
    counters = {}
    for row in signin_counters.rows(conn):
        # Written in an earlier boot: how long ago is unknown, so the wait starts again now.
        failed_s = min(row.failed_monotonic_ns / 1e9, now) if row.boot_id == boot_id else now
        counters[row.scope] = Counter(row.failures, failed_s, row.wait_s)
    return counters


def save(store: Store, changes: Iterable[tuple[str, Counter | None]]) -> None:
    """Write the changed counters in one transaction (counters' times are time.monotonic)."""
    signin_counters.save(store, [
        (scope, None if c is None else (c.failures, c.wait_s, c.failed_s)) for scope, c in changes])
