"""Login throttling: password attempts counted per username and per client address, in the
database, so every server process behind the reverse proxy sees the same counts.

    attempt   reserve()    locked                  -> refused until then (no password check)
                           window of `window_s` over -> count from 0
                           count already at limit  -> locked now (parallel attempts), refused
                           else count + 1          -> the password is checked
    wrong     failed()     count at limit          -> locked for lockout_s * 2^(lockouts - 1),
                                                      at most max_lockout_s
    right     succeeded()  the username's counter is deleted; the address gives back its one

An attempt is counted *before* its password is checked, so a burst of parallel attempts cannot
test more than `limit` passwords before the lock lands. Unknown usernames are counted like known
ones, so a lock reveals nothing about who exists; a right password during a lock is refused
like a wrong one. Counters are keyed by the SHA-256 of the username or the address (an IPv6
address by its /64), never the text: people type their password into the username field.

A counter without a lock is forgotten when its window ends; one with a lock `forget_s` after the
lock ends (so lockouts keep growing through a day of guessing). Each write deletes a bounded
batch of forgotten rows, skipping rows another transaction holds.

The state transitions are pure functions of (counter, policy, now), tested without sleeping;
`LoginThrottle` stores them with `SELECT ... FOR UPDATE` (PostgreSQL) or under SQLite's write
lock (BEGIN IMMEDIATE), always the username's row before the address's (no deadlock).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import time
from dataclasses import dataclass, replace

from sqlalchemy import Connection, Engine, delete, select, tuple_, update

from central.db.tables import login_throttle
from central.db.upsert import insert_ignore
from central.errors import CentralError
from central.logsafe import safe
from sync.privacy import mask_name

log = logging.getLogger(__name__)
USER, ADDRESS = "user", "address"
PRUNE_BATCH = 100


class ThrottledError(CentralError):
    """429: too many failed logins for this username or from this address."""

    status, code = 429, "too_many_attempts"

    def __init__(self, until_s: float, now: float) -> None:
        retry_after = max(1, int(until_s - now + 0.999))
        super().__init__(f"too many failed logins: try again in {retry_after} s",
                         retry_after_s=retry_after)
        self.until_s = until_s


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    user_limit: int = 5  # failed attempts per username within the window
    address_limit: int = 30  # per client address (a station behind NAT shares one)
    window_s: float = 15 * 60
    lockout_s: float = 5 * 60  # the first lock; each further one doubles
    max_lockout_s: float = 60 * 60
    forget_s: float = 24 * 3600  # lockouts are remembered this long after the last one ends

    def __post_init__(self) -> None:
        if min(self.user_limit, self.address_limit) < 1 or min(
                self.window_s, self.lockout_s, self.max_lockout_s, self.forget_s) <= 0:
            raise ValueError("login throttle limits and durations must be positive")

    def lockout_for(self, lockouts: int) -> float:
        return min(self.lockout_s * 2 ** max(lockouts - 1, 0), self.max_lockout_s)


@dataclass(frozen=True, slots=True)
class Counter:
    failures: int = 0  # attempts in the window not (yet) known to be right
    window_start_s: float = 0.0
    locked_until_s: float | None = None
    lockouts: int = 0

    def locked_at(self, now: float) -> bool:
        return self.locked_until_s is not None and now < self.locked_until_s

    def expires_s(self, policy: ThrottlePolicy) -> float:
        if self.lockouts == 0:
            return self.window_start_s + policy.window_s
        return max(self.locked_until_s or 0.0, self.window_start_s) + policy.forget_s


def reserve(counter: Counter, limit: int, policy: ThrottlePolicy, now: float
            ) -> tuple[Counter, float | None]:
    """Count one attempt; returns (new counter, refused-until or None when it may proceed)."""
    if counter.locked_at(now):
        return counter, counter.locked_until_s
    if now - counter.window_start_s >= policy.window_s:
        counter = replace(counter, failures=0, window_start_s=now)
    if counter.failures >= limit:
        counter = _lock(counter, policy, now)
        return counter, counter.locked_until_s
    return replace(counter, failures=counter.failures + 1), None


def failed(counter: Counter, limit: int, policy: ThrottlePolicy, now: float) -> Counter:
    """The reserved attempt was wrong: lock when the window's count reached the limit."""
    if counter.failures >= limit and not counter.locked_at(now):
        return _lock(counter, policy, now)
    return counter


def given_back(counter: Counter) -> Counter:
    """The reserved attempt was right: it does not count against the address."""
    return replace(counter, failures=max(counter.failures - 1, 0))


def _lock(counter: Counter, policy: ThrottlePolicy, now: float) -> Counter:
    lockouts = counter.lockouts + 1
    return Counter(failures=0, window_start_s=now,
                   locked_until_s=now + policy.lockout_for(lockouts), lockouts=lockouts)


def key_of(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\n{value}".encode()).hexdigest()


def client_address(host: str | None) -> str | None:
    """The address counted for a client: IPv4 as is, IPv6 by its /64 (one subscriber's)."""
    if not host:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One reserved login attempt: settle it with `failed` or `succeeded`."""

    username: str
    address: str | None

    def counters(self) -> list[tuple[str, str]]:
        keys = [(USER, key_of(USER, self.username))]
        if self.address:
            keys.append((ADDRESS, key_of(ADDRESS, self.address)))
        return keys


class LoginThrottle:
    def __init__(self, engine: Engine, policy: ThrottlePolicy) -> None:
        self.engine = engine
        self.policy = policy

    def _limit(self, kind: str) -> int:
        return self.policy.user_limit if kind == USER else self.policy.address_limit

    def reserve(self, username: str, host: str | None, now: float | None = None) -> Attempt:
        """Count an attempt before its password is checked; ThrottledError while locked."""
        now = time.time() if now is None else now
        attempt = Attempt(username, client_address(host))
        with self.engine.begin() as conn:
            states = []
            for kind, key in attempt.counters():
                before = self._load(conn, kind, key, now)
                states.append((kind, key, before, *reserve(before, self._limit(kind),
                                                           self.policy, now)))
            refused = [s for s in states if s[4] is not None]
            # Refused: only the refusing counters change (a new lock); the others count nothing.
            for kind, key, before, state, _until in refused or states:
                self._store(conn, kind, key, state)
                if state.lockouts > before.lockouts:
                    self._log_lock(kind, attempt, state, now)
            self._prune(conn, now)
        if refused:
            raise ThrottledError(max(s[4] for s in refused), now)
        return attempt

    def failed(self, attempt: Attempt, now: float | None = None) -> float | None:
        """The password was wrong; returns the time until which the login is now locked."""
        now = time.time() if now is None else now
        log.warning("failed login for %s from %s", safe(mask_name(attempt.username)),
                    safe(attempt.address or "an unknown address"))
        locked: list[float] = []
        with self.engine.begin() as conn:
            for kind, key in attempt.counters():
                before = self._load(conn, kind, key, now)
                after = failed(before, self._limit(kind), self.policy, now)
                self._store(conn, kind, key, after)
                if after.locked_at(now):
                    locked.append(after.locked_until_s or now)
                if after.lockouts > before.lockouts:
                    self._log_lock(kind, attempt, after, now)
        return max(locked) if locked else None

    def succeeded(self, attempt: Attempt, now: float | None = None) -> None:
        """The password was right: the username starts afresh, the address gets its one back."""
        now = time.time() if now is None else now
        with self.engine.begin() as conn:
            self.clear_user(conn, attempt.username)
            if attempt.address:
                key = key_of(ADDRESS, attempt.address)
                self._store(conn, ADDRESS, key, given_back(self._load(conn, ADDRESS, key, now)))

    @staticmethod
    def locks(conn: Connection, kind: str, now: float) -> dict[str, float]:
        """key_sha256 -> locked until, for the counters of `kind` locked at `now`."""
        return {r.key_sha256: r.locked_until_s for r in conn.execute(
            select(login_throttle.c.key_sha256, login_throttle.c.locked_until_s).where(
                login_throttle.c.kind == kind, login_throttle.c.locked_until_s > now))}

    @staticmethod
    def _log_lock(kind: str, attempt: Attempt, state: Counter, now: float) -> None:
        shown = mask_name(attempt.username) if kind == USER else attempt.address
        log.warning("login locked for %s %s: %.0f s (lockout %d)", kind, safe(shown),
                    (state.locked_until_s or now) - now, state.lockouts)

    @staticmethod
    def clear_user(conn: Connection, username: str) -> bool:
        """Forget a username's failures and lock (a supervisor's unlock, a password reset)."""
        result = conn.execute(delete(login_throttle).where(
            login_throttle.c.kind == USER, login_throttle.c.key_sha256 == key_of(USER, username)))
        return bool(result.rowcount)

    def _load(self, conn: Connection, kind: str, key: str, now: float) -> Counter:
        fresh = Counter(window_start_s=now)
        insert_ignore(conn, login_throttle, {"kind": kind, "key_sha256": key, "failures": 0,
                                             "window_start_s": now, "locked_until_s": None,
                                             "lockouts": 0,
                                             "expires_s": fresh.expires_s(self.policy)})
        row = conn.execute(select(login_throttle).where(
            login_throttle.c.kind == kind, login_throttle.c.key_sha256 == key)
            .with_for_update()).one()
        if row.expires_s < now:
            return fresh  # forgotten: the row is only waiting to be pruned
        return Counter(row.failures, row.window_start_s, row.locked_until_s, row.lockouts)

    def _store(self, conn: Connection, kind: str, key: str, state: Counter) -> None:
        conn.execute(update(login_throttle).where(
            login_throttle.c.kind == kind, login_throttle.c.key_sha256 == key).values(
            failures=state.failures, window_start_s=state.window_start_s,
            locked_until_s=state.locked_until_s, lockouts=state.lockouts,
            expires_s=state.expires_s(self.policy)))

    @staticmethod
    def _prune(conn: Connection, now: float) -> None:
        stale = (select(login_throttle.c.kind, login_throttle.c.key_sha256)
                 .where(login_throttle.c.expires_s < now).limit(PRUNE_BATCH)
                 .with_for_update(skip_locked=True))
        rows = [tuple(r) for r in conn.execute(stale)]
        if rows:
            conn.execute(delete(login_throttle).where(
                tuple_(login_throttle.c.kind, login_throttle.c.key_sha256).in_(rows),
                login_throttle.c.expires_s < now))
