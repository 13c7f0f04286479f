"""sync/retry.py without sleeping: waits, Retry-After floor, budgets, history, stop."""

from __future__ import annotations

import random

import pytest

from sync import errors
from sync.retry import (
    MAYBE_DELIVERED,
    NOT_DELIVERED,
    AttemptHistory,
    RetryBudgetExhausted,
    RetryPolicy,
    StopRequested,
    plain_exponential_wait,
)


class Script:
    """A callable that raises the scripted errors in turn, then returns 'ok'."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def busy(retry_after: float | None = None) -> errors.ServerBusyError:
    return errors.ServerBusyError("busy", status=503, retry_after=retry_after)


def test_full_jitter_within_capped_window():
    policy = RetryPolicy(initial_s=1, cap_s=60)
    rng = random.Random(7)
    for n in range(1, 20):
        waits = [policy.wait_for(n, None, rng) for _ in range(200)]
        high = min(60, 2 ** (n - 1))
        assert all(0 <= w <= high for w in waits)
        assert min(waits) < high * 0.1 and max(waits) > high * 0.9  # spread over the window
    assert plain_exponential_wait(policy, 30) == 60


def test_retry_after_is_a_floor_and_capped():
    policy = RetryPolicy(initial_s=1, cap_s=4, retry_after_cap_s=100, retry_after_spread=0)
    rng = random.Random(1)
    assert all(policy.wait_for(1, busy(30), rng) == 30 for _ in range(50))
    assert policy.wait_for(1, busy(10_000), rng) == 100


def test_retry_after_floor_is_spread_so_the_shed_do_not_return_together():
    policy = RetryPolicy(initial_s=1, cap_s=4)
    rng = random.Random(2)
    waits = [policy.wait_for(1, busy(30), rng) for _ in range(1000)]
    assert min(waits) >= 30 and max(waits) <= 60
    assert len({int(w) for w in waits}) == 30  # one second buckets: spread over all 30


def test_retries_until_success_without_sleeping():
    slept: list[float] = []
    fn = Script(busy(), errors.ConnectError("refused"), errors.ConnectionLostError("reset"),
                busy(5))
    history = AttemptHistory()
    assert RetryPolicy(cap_s=2).call(fn, history=history, sleep=slept.append) == "ok"
    assert fn.calls == 5 and len(slept) == 4
    assert slept[3] >= 5  # Retry-After honoured
    assert [a.kind for a in history.attempts] == [NOT_DELIVERED, NOT_DELIVERED, MAYBE_DELIVERED,
                                                  NOT_DELIVERED]
    assert history.count(NOT_DELIVERED) == 3 and history.waited_s == pytest.approx(sum(slept))


def test_maybe_delivered_budget_is_separate():
    fn = Script(*[busy() for _ in range(10)], *[errors.ServerFailureError("500")
                                                 for _ in range(3)])
    policy = RetryPolicy(not_delivered_attempts=None, maybe_delivered_attempts=3)
    with pytest.raises(RetryBudgetExhausted) as caught:
        policy.call(fn, sleep=lambda s: None)
    assert caught.value.kind == MAYBE_DELIVERED and fn.calls == 13


def test_not_delivered_budget():
    policy = RetryPolicy(not_delivered_attempts=2)
    with pytest.raises(RetryBudgetExhausted) as caught:
        policy.call(Script(busy(), busy(), busy()), sleep=lambda s: None)
    assert caught.value.kind == NOT_DELIVERED and isinstance(caught.value.last,
                                                              errors.ServerBusyError)


def test_refusals_are_not_retried():
    fn = Script(errors.ForbiddenError("wrong site", status=403))
    with pytest.raises(errors.ForbiddenError):
        RetryPolicy().call(fn, sleep=lambda s: None)
    assert fn.calls == 1


def test_deadline_stops_the_call():
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(errors.ConnectError):
        RetryPolicy(initial_s=10, cap_s=10, max_elapsed_s=60).call(
            Script(*[errors.ConnectError("x") for _ in range(100)]), sleep=sleep,
            monotonic=lambda: now[0], rng=random.Random(3))
    assert now[0] < 80


def test_stop_requested_interrupts_the_wait():
    with pytest.raises(StopRequested):
        RetryPolicy().call(Script(busy(), busy()), sleep=lambda s: True)


def test_policy_is_immutable():
    with pytest.raises(AttributeError):
        RetryPolicy().cap_s = 1  # type: ignore[misc]
