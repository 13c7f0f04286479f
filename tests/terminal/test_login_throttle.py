"""The sign-in throttle of the front-desk page: its arithmetic, its counters and the store,
on a settable clock (nothing here sleeps)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from terminal.config import from_mapping
from terminal.store.database import Store
from terminal.system.clock import FixedClock
from terminal.web import signin_throttle
from terminal.web.signin_throttle import GLOBAL, LOCAL, Counter, LoginThrottle, ThrottlePolicy

POLICY = ThrottlePolicy(free_attempts=3, global_free_attempts=5, delay_s=5, cap_s=60,
                        forget_s=600)
LAN = "192.168.1.23"


class Now:
    def __init__(self) -> None:
        self.s = 1000.0

    def __call__(self) -> float:
        return self.s


@pytest.fixture
def now() -> Now:
    return Now()


@pytest.fixture
def guard(now: Now) -> LoginThrottle:
    return LoginThrottle(POLICY, clock=now)


def wrong(guard: LoginThrottle, host: str = LAN) -> signin_throttle.Outcome:
    return guard.attempt(host, lambda: False)


def right(guard: LoginThrottle, host: str = LAN) -> signin_throttle.Outcome:
    return guard.attempt(host, lambda: True)


def test_waits_start_after_the_free_attempts_double_and_stop_at_the_cap() -> None:
    waits = [POLICY.wait_after(n, 3) for n in range(1, 10)]
    assert waits == [0, 0, 5, 10, 20, 40, 60, 60, 60]
    assert POLICY.wait_after(10**6, 3) == 60  # no overflow however long the attack
    defaults = ThrottlePolicy()
    assert [defaults.wait_after(n, 5) for n in (4, 5, 6, 11, 12)] == [0, 5, 10, 300, 300]


def test_the_policy_refuses_nonsense() -> None:
    for bad in ({"free_attempts": 0}, {"delay_s": 0}, {"cap_s": -1}, {"forget_s": -1}):
        with pytest.raises(ValueError):
            ThrottlePolicy(**bad)


def test_the_policy_from_the_settings() -> None:
    config = from_mapping({"web": {"login_free_attempts": 2, "login_delay_s": 1,
                                   "login_delay_cap_s": 4, "login_forget_s": 0}})
    policy = ThrottlePolicy.from_config(config)
    assert (policy.free_attempts, policy.global_free_attempts, policy.delay_s, policy.cap_s,
            policy.forget_s) == (2, 20, 1, 4, 0)
    assert ThrottlePolicy.from_config(from_mapping({})) == ThrottlePolicy()


@pytest.mark.parametrize(("host", "scope"), [
    ("192.168.1.23", "address:192.168.1.23"),
    ("::ffff:192.168.1.23", "address:192.168.1.23"),
    ("2001:db8:1:2:aaaa::1", "address:2001:db8:1:2::/64"),
    ("2001:db8:1:2:bbbb::9", "address:2001:db8:1:2::/64"),  # the same machine's /64
    ("127.0.0.1", LOCAL), ("127.8.0.1", LOCAL), ("::1", LOCAL),
    (None, "address:?"), ("testclient", "address:testclient"),
])
def test_client_addresses_map_to_counters(host: str | None, scope: str) -> None:
    assert signin_throttle.scope_of(host) == scope


def test_a_wait_refuses_even_the_right_pin_without_comparing_it(guard, now) -> None:
    assert [wrong(guard).wait_s for _ in range(2)] == [0, 0]
    third = wrong(guard)
    assert (third.ok, third.refused, third.wait_s) == (False, False, 5)
    compared = []
    refused = guard.attempt(LAN, lambda: compared.append(1) or True)
    assert (refused.ok, refused.refused, compared, refused.changes) == (False, True, [], ())
    now.s += 4.5
    assert guard.wait_s(LAN) == pytest.approx(0.5)
    now.s += 0.5
    assert right(guard).ok  # the wait is over: the right PIN signs in


def test_each_wrong_pin_after_a_wait_doubles_it_up_to_the_cap(guard, now) -> None:
    waits = []
    for _ in range(8):
        outcome = wrong(guard)
        waits.append(outcome.wait_s)
        now.s += outcome.wait_s
    assert waits == [0, 0, 5, 10, 20, 40, 60, 60]
    # Attempts refused during a wait are not counted: they do not lengthen it.
    wrong(guard)
    for _ in range(20):
        assert wrong(guard).refused
    assert guard.counter(f"address:{LAN}").failures == 9


def test_a_right_pin_starts_the_address_afresh_but_not_the_global_counter(guard, now) -> None:
    wrong(guard)
    wrong(guard)
    signed_in = right(guard)
    assert signed_in.ok and signed_in.changes == ((f"address:{LAN}", None),)
    assert guard.counter(f"address:{LAN}") is None
    assert guard.counter(GLOBAL).failures == 2
    assert right(guard).changes == ()  # nothing to write when there was nothing to forget


def test_many_addresses_meet_the_global_counter(guard, now) -> None:
    hosts = [f"10.0.0.{i}" for i in range(1, 8)]
    outcomes = [wrong(guard, host) for host in hosts[:5]]  # one guess each: all "free"
    assert [o.wait_s for o in outcomes] == [0, 0, 0, 0, 5]
    assert right(guard, hosts[5]).refused  # a new address waits too, with the right PIN
    assert guard.wait_s("2001:db8::1") == 5
    # The kiosk on the terminal itself is never held by the network's failures.
    assert guard.counter(LOCAL) is None and guard.wait_s("127.0.0.1") == 0
    assert right(guard, "127.0.0.1").ok


def test_the_terminal_s_own_browser_has_its_own_counter_only(guard, now) -> None:
    for _ in range(3):
        local = wrong(guard, "127.0.0.1")
    assert local.wait_s == 5 and local.changes == ((LOCAL, guard.counter(LOCAL)),)
    assert guard.counter(GLOBAL) is None
    assert guard.wait_s(LAN) == 0 and guard.wait_s("::1") == 5


def test_counters_are_forgotten_after_the_quiet_time(guard, now) -> None:
    for _ in range(4):
        outcome = wrong(guard)
        now.s += outcome.wait_s
    assert guard.counter(f"address:{LAN}").failures == 4  # its wait (10 s) just ended
    now.s += 599
    assert wrong(guard).wait_s == 20  # still remembered
    now.s += 20 + 600
    again = wrong(guard, "10.9.9.9")  # another address's failure prunes the forgotten ones
    assert (f"address:{LAN}", None) in again.changes
    assert wrong(guard).wait_s == 0 and guard.counter(f"address:{LAN}").failures == 1


def test_the_address_counters_are_bounded(now, monkeypatch) -> None:
    monkeypatch.setattr(signin_throttle, "MAX_COUNTERS", 10)
    guard = LoginThrottle(ThrottlePolicy(global_free_attempts=1000), clock=now)
    for i in range(15):
        now.s += 1
        wrong(guard, f"10.0.1.{i}")
    assert guard.counter("address:10.0.1.0") is None and guard.counter("address:10.0.1.14")
    assert guard.counter(GLOBAL).failures == 15


def test_failures_are_logged_without_the_pin(guard, caplog) -> None:
    caplog.set_level(logging.INFO, logger="terminal.web.signin_throttle")
    pin = "80417263"
    for _ in range(3):
        guard.attempt(LAN, lambda: pin == "x")
    right_after = guard.attempt(LAN, lambda: True)
    assert right_after.refused
    text = caplog.text
    assert pin not in text and "address:192.168.1.23 (3 in a row; waits 5 s)" in text


# ---- the store ---------------------------------------------------------------------------

@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    clock = FixedClock(datetime(2026, 11, 28, 8, 0, tzinfo=UTC), boot_id="boot-1")
    with Store.open(tmp_path / "t.db", create=True, clock=clock) as opened:
        yield opened


def test_counters_survive_a_restart_in_the_same_boot(store, guard, now) -> None:
    for _ in range(3):
        signin_throttle.save(store, wrong(guard).changes)
    with store.reader() as conn:
        rows = conn.execute("SELECT * FROM login_throttle ORDER BY scope").fetchall()
        assert [r[:3] for r in rows] == [(f"address:{LAN}", 3, 5.0), (GLOBAL, 3, 0.0)]
        assert all(r[5] == "boot-1" for r in rows)
        now.s += 2  # restarted 2 s after the third failure
        counters = signin_throttle.load(conn, now=now.s, boot_id="boot-1")
    restarted = LoginThrottle(POLICY, counters=counters, clock=now)
    assert restarted.wait_s(LAN) == pytest.approx(3)
    assert restarted.attempt(LAN, lambda: True).refused
    now.s += 3
    signed_in = restarted.attempt(LAN, lambda: True)
    assert signed_in.ok
    signin_throttle.save(store, signed_in.changes)
    with store.reader() as conn:
        assert [r[0] for r in conn.execute("SELECT scope FROM login_throttle")] == [GLOBAL]


def test_a_counter_from_an_earlier_boot_restarts_its_wait(store, guard, now) -> None:
    for _ in range(4):
        outcome = wrong(guard)
        signin_throttle.save(store, outcome.changes)
        now.s += outcome.wait_s
    assert outcome.wait_s == 10
    with store.reader() as conn:
        counters = signin_throttle.load(conn, now=5.0, boot_id="boot-2")  # monotonic restarted at 0
    assert counters[f"address:{LAN}"] == Counter(4, 5.0, 10.0)
    assert counters[GLOBAL] == Counter(4, 5.0, 0.0)
