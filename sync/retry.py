"""The uploader's one retry layer: exponential backoff with FULL jitter, capped, honouring
Retry-After, with separate budgets for "never reached the server" and "may have been stored".

Why full jitter (`wait_random_exponential`: uniform in [0, min(cap, initial * 2**n)]) and not
`wait_exponential_jitter`: the latter adds at most a second of jitter on top of a deterministic
wait, and at the cap every terminal waits the same time, so 10,000 terminals coming back from an
outage arrive together. Full jitter spreads them over the whole window (bench/bench_sync.py).

Retry-After (seconds, already converted by the client from the date form with the server's own
Date header) is a floor: the wait is max(jittered wait, a floor drawn in [RA, 2 RA]), so a
shedding server is obeyed and the terminals it shed together do not all return together.

Both failure classes are safe to retry because ingest is idempotent by event id. They get
separate budgets because they mean different things: "not delivered" (connect refused, 429/503)
is the network or the server being away, worth retrying for as long as the caller lets us;
"maybe delivered" (reset mid-answer, timeout, 5xx) repeated many times on the same request
suggests the request itself is a problem (a poison batch), so the caller should change it
(the uploader halves the batch) rather than send it forever.

    policy = RetryPolicy(initial_s=1, cap_s=300)
    history = AttemptHistory()
    answer = policy.call(lambda: client.send_events(batch), history=history, sleep=stop.wait)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity
from tenacity import RetryCallState, wait_exponential, wait_random_exponential

from sync.errors import MaybeDeliveredError, NotDeliveredError, RequestError, SyncError

T = TypeVar("T")
NOT_DELIVERED = "not_delivered"
MAYBE_DELIVERED = "maybe_delivered"


class StopRequested(SyncError):
    """The sleep was interrupted because the process is shutting down."""


class RetryBudgetExhausted(SyncError):
    """A budget ran out; `last` is the final error, `kind` which budget."""

    def __init__(self, kind: str, last: RequestError, attempts: int) -> None:
        super().__init__(f"{kind} budget exhausted after {attempts} attempts: {last.message}")
        self.kind = kind
        self.last = last
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class Attempt:
    """One failed attempt: what failed, whether the server may have acted, how long we waited."""

    number: int
    error: str  # the error class name (no message: messages may carry URLs, never personal data)
    kind: str  # NOT_DELIVERED or MAYBE_DELIVERED
    retry_after: float | None
    wait_s: float


@dataclass(slots=True)
class AttemptHistory:
    """Failed attempts of one call (the caller may share one across calls for a summary)."""

    attempts: list[Attempt] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for a in self.attempts if a.kind == kind)

    @property
    def waited_s(self) -> float:
        return sum(a.wait_s for a in self.attempts)


class FullJitter(wait_random_exponential):
    """tenacity's full-jitter wait with an injectable random source (tests, the herd bench)."""

    def __init__(self, initial_s: float, cap_s: float, rng: random.Random | None = None) -> None:
        super().__init__(multiplier=initial_s, max=cap_s)
        self.rng = rng or random.Random()

    def __call__(self, retry_state: RetryCallState) -> float:
        high = wait_exponential.__call__(self, retry_state)  # initial * 2**(n-1), capped
        return self.rng.uniform(0.0, high)


def _kind(error: BaseException) -> str | None:
    if isinstance(error, NotDeliveredError):
        return NOT_DELIVERED
    if isinstance(error, MaybeDeliveredError):
        return MAYBE_DELIVERED
    return None  # refused (4xx) or a protocol error: the same request would fail again


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Immutable: share one between threads; each `call` builds its own tenacity state."""

    initial_s: float = 1.0
    cap_s: float = 300.0
    not_delivered_attempts: int | None = None  # None: retry until the caller stops us
    maybe_delivered_attempts: int | None = 6
    max_elapsed_s: float | None = None  # a deadline for the whole call (`anju sync now`)
    retry_after_cap_s: float = 3600.0  # a misconfigured server must not park us for a day
    # The floor itself is spread over [RA, RA * (1 + spread)]: with a bare max(), every
    # terminal whose jittered wait is still below Retry-After would come back at the same
    # instant RA and be shed again together. 0 gives the bare max().
    retry_after_spread: float = 1.0

    def wait_for(self, attempt_number: int, error: BaseException | None,
                 rng: random.Random | None = None) -> float:
        """The wait after failed attempt `attempt_number` (1-based); used by the herd bench."""
        state = RetryCallState(None, None, (), {})
        state.attempt_number = attempt_number
        jitter = FullJitter(self.initial_s, self.cap_s, rng)(state)
        return self._floor(jitter, error, rng or random.Random())

    def _floor(self, jitter: float, error: BaseException | None, rng: random.Random
               ) -> float:
        retry_after = getattr(error, "retry_after", None)
        if retry_after is None:
            return jitter
        floor = min(float(retry_after), self.retry_after_cap_s)
        return max(jitter, floor * (1.0 + rng.uniform(0.0, self.retry_after_spread)))

    def call(
        self, fn: Callable[[], T], *, history: AttemptHistory | None = None,
        sleep: Callable[[float], object] = time.sleep, rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        on_failure: Callable[[Attempt], None] | None = None,
        on_error: Callable[[RequestError], None] | None = None,
    ) -> T:
        """Run `fn` until it succeeds, raises a non-retryable error, or a budget runs out.

        `sleep` may return True to mean "stop requested" (threading.Event.wait does), which
        raises StopRequested instead of trying again. `on_error` sees every failed attempt's
        error as it happens, the first one included: with an unlimited budget the call may
        never return, and the caller must still be able to say it is offline.
        """
        history = history if history is not None else AttemptHistory()
        jitter = FullJitter(self.initial_s, self.cap_s, rng)
        started = monotonic()
        per_call: dict[str, int] = {NOT_DELIVERED: 0, MAYBE_DELIVERED: 0}

        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            # Jitter grows with the attempts of this call, whichever class failed.
            return self._floor(jitter(state), error, jitter.rng)

        def stop(state: RetryCallState) -> bool:
            error = state.outcome.exception() if state.outcome else None
            kind = _kind(error) if error else None
            if kind is None:
                return True
            per_call[kind] += 1
            budget = (self.not_delivered_attempts if kind == NOT_DELIVERED
                      else self.maybe_delivered_attempts)
            if budget is not None and per_call[kind] >= budget:
                return True
            return self.max_elapsed_s is not None and monotonic() - started >= self.max_elapsed_s

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            assert error is not None and state.next_action is not None
            attempt = Attempt(state.attempt_number, type(error).__name__, _kind(error) or "",
                              getattr(error, "retry_after", None), state.next_action.sleep)
            history.attempts.append(attempt)
            if on_error is not None and isinstance(error, RequestError):
                on_error(error)
            if on_failure is not None:
                on_failure(attempt)

        def do_sleep(seconds: float) -> None:
            if sleep(seconds) is True:
                raise StopRequested()

        retrying = tenacity.Retrying(
            wait=wait, stop=stop, sleep=do_sleep, before_sleep=before_sleep,
            retry=tenacity.retry_if_exception_type((NotDeliveredError, MaybeDeliveredError)),
            reraise=True)
        try:
            return retrying(fn)
        except (NotDeliveredError, MaybeDeliveredError) as err:
            kind = _kind(err) or ""
            budget = (self.not_delivered_attempts if kind == NOT_DELIVERED
                      else self.maybe_delivered_attempts)
            if budget is not None and per_call[kind] >= budget:
                raise RetryBudgetExhausted(kind, err, per_call[kind]) from err
            raise


def plain_exponential_wait(policy: RetryPolicy, attempt_number: int) -> float:
    """The deterministic capped exponential wait without jitter (the herd bench's baseline)."""
    return min(policy.cap_s, policy.initial_s * 2 ** (attempt_number - 1))
