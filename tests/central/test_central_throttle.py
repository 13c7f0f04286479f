"""Login throttling (central/accounts/login_throttle.py): the state transitions as pure
functions, without sleeping, then the stored counters on both backends with an explicit clock."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
from click.testing import CliRunner
from sqlalchemy import func, insert, select

from central.accounts import admin
from central.accounts.login_throttle import (
    ADDRESS,
    USER,
    Counter,
    LoginThrottle,
    ThrottledError,
    ThrottlePolicy,
    client_address,
    failed,
    given_back,
    key_of,
    reserve,
)
from central.db.tables import login_throttle
from terminal.cli import cli
from tests.central.central_helpers import Admin
from tests.central.police_helpers import OPERATOR, make_user

POLICY = ThrottlePolicy(user_limit=3, address_limit=10, window_s=600, lockout_s=60,
                        max_lockout_s=300, forget_s=3600)
T0 = 1_800_000_000.0


def fail_once(counter: Counter, now: float, limit: int = 3) -> tuple[Counter, float | None]:
    counter, refused = reserve(counter, limit, POLICY, now)
    if refused is None:
        counter = failed(counter, limit, POLICY, now)
    return counter, refused


def test_the_limit_th_failure_locks_and_the_next_attempt_is_refused_until_it_ends() -> None:
    counter = Counter(window_start_s=T0)
    for i in range(3):
        counter, refused = fail_once(counter, T0 + i)
        assert refused is None
    assert counter.locked_until_s == T0 + 2 + 60 and counter.lockouts == 1
    assert reserve(counter, 3, POLICY, T0 + 61) == (counter, T0 + 62)  # refused, unchanged
    counter, refused = reserve(counter, 3, POLICY, T0 + 62)  # the lock has ended
    assert refused is None and counter.failures == 1


def test_lockouts_double_up_to_the_cap_and_are_forgotten_after_a_quiet_day() -> None:
    counter, now, lengths = Counter(window_start_s=T0), T0, []
    for _ in range(5):
        for _ in range(3):
            counter, refused = fail_once(counter, now)
            assert refused is None
        assert counter.locked_until_s is not None
        lengths.append(counter.locked_until_s - now)
        now = counter.locked_until_s
    assert lengths == [60, 120, 240, 300, 300]
    assert counter.expires_s(POLICY) == now + 3600  # remembered a day ... here an hour
    assert Counter(window_start_s=T0).expires_s(POLICY) == T0 + 600  # no lock: the window


def test_failures_older_than_the_window_do_not_count() -> None:
    counter = Counter(window_start_s=T0)
    counter, _ = fail_once(counter, T0)
    counter, _ = fail_once(counter, T0 + 1)
    counter, refused = fail_once(counter, T0 + 600)  # a new window: this is its first
    assert refused is None and counter.failures == 1 and counter.locked_until_s is None


def test_parallel_attempts_cannot_check_more_passwords_than_the_limit() -> None:
    counter, allowed = Counter(window_start_s=T0), 0
    for _ in range(10):  # all reserved before any of them is known to be wrong
        counter, refused = reserve(counter, 3, POLICY, T0)
        allowed += refused is None
    assert allowed == 3 and counter.locked_until_s == T0 + 60


def test_a_right_password_gives_the_address_its_attempt_back() -> None:
    counter, _ = reserve(Counter(window_start_s=T0), 10, POLICY, T0)
    assert given_back(counter).failures == 0
    assert given_back(Counter()).failures == 0


def test_addresses_are_counted_by_ipv4_or_ipv6_64() -> None:
    assert client_address("203.0.113.9") == "203.0.113.9"
    assert client_address("2001:db8:1:2:aaaa::1") == client_address("2001:db8:1:2:ffff::9")
    assert client_address("2001:db8:1:2::1") != client_address("2001:db8:1:3::1")
    assert client_address("::ffff:203.0.113.9") == "203.0.113.9"
    assert client_address(None) is None


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError):
        ThrottlePolicy(user_limit=0)
    with pytest.raises(ValueError):
        ThrottlePolicy(lockout_s=0)


# Stored counters, both backends (the `central` fixture's database), with an explicit clock.

def _rows(central: Admin, kind: str, value: str) -> list[dict[str, object]]:
    return central.rows("login_throttle", kind=kind, key_sha256=key_of(kind, value))


def _address() -> str:
    return f"198.18.{secrets.randbelow(256)}.{secrets.randbelow(256)}"


def test_stored_counters_lock_refuse_and_reset_on_success(central: Admin) -> None:
    throttle = LoginThrottle(central.engine, POLICY)
    user, address = "u-" + secrets.token_hex(4), _address()
    for i in range(2):
        throttle.failed(throttle.reserve(user, address, T0 + i), T0 + i)
    assert _rows(central, USER, user)[0]["failures"] == 2
    throttle.succeeded(throttle.reserve(user, address, T0 + 2), T0 + 2)
    assert _rows(central, USER, user) == []  # success: the username starts afresh
    assert _rows(central, ADDRESS, address)[0]["failures"] == 2  # the address does not
    for _ in range(3):
        until = throttle.failed(throttle.reserve(user, address, T0 + 3), T0 + 3)
    assert until == T0 + 3 + 60
    with pytest.raises(ThrottledError) as refused:
        throttle.reserve(user, address, T0 + 10)  # a right password is never even checked
    assert refused.value.until_s == T0 + 63 and refused.value.detail["retry_after_s"] == 53
    with pytest.raises(ThrottledError):
        throttle.reserve(user, _address(), T0 + 10)  # the username is locked from anywhere
    assert _rows(central, ADDRESS, address)[0]["failures"] == 5  # refused attempts count nothing
    stored = str(central.rows("login_throttle"))
    assert user not in stored and address not in stored  # only hashes are kept


def test_an_address_is_locked_across_usernames(central: Admin) -> None:
    throttle = LoginThrottle(central.engine, POLICY)
    address, other = _address(), _address()
    for i in range(10):
        throttle.failed(throttle.reserve(f"guess-{i}-{address}", address, T0), T0)
    with pytest.raises(ThrottledError):
        throttle.reserve("someone-new-" + address, address, T0 + 1)
    assert _rows(central, USER, "someone-new-" + address)[0]["failures"] == 0  # not counted
    throttle.succeeded(throttle.reserve("someone-new-" + address, other, T0 + 1), T0 + 1)


def test_concurrent_reservations_check_at_most_the_limit(central: Admin) -> None:
    throttle = LoginThrottle(central.engine, POLICY)
    user, address = "burst-" + secrets.token_hex(4), _address()

    def one(_i: int) -> bool:
        try:
            throttle.reserve(user, address, T0)
        except ThrottledError:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        allowed = sum(pool.map(one, range(16)))
    assert allowed == 3


def test_forgotten_rows_are_pruned_on_write(central: Admin) -> None:
    throttle = LoginThrottle(central.engine, POLICY)
    stale = [{"kind": USER, "key_sha256": secrets.token_hex(32), "failures": 1,
              "window_start_s": 1000.0, "locked_until_s": None, "lockouts": 0,
              "expires_s": 1600.0} for _ in range(3)]
    with central.engine.begin() as conn:
        conn.execute(insert(login_throttle), stale)
    throttle.failed(throttle.reserve("p-" + secrets.token_hex(4), _address(), T0), T0)
    with central.engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(login_throttle)
                            .where(login_throttle.c.expires_s < T0)).scalar()
    assert left == 0


def test_unlock_and_password_reset_lift_a_lock(central: Admin) -> None:
    throttle = LoginThrottle(central.engine, POLICY)
    police = make_user(central.engine, "officer")
    for _ in range(3):
        throttle.failed(throttle.reserve(police.username, None, T0), T0)
    with pytest.raises(ThrottledError):
        throttle.reserve(police.username, None, T0 + 1)
    result = CliRunner().invoke(cli, ["central", "user", "unlock", police.username,
                                      "--db", central.db_url])
    assert result.exit_code == 0 and "unlocked" in result.output, result.output
    throttle.succeeded(throttle.reserve(police.username, None, T0 + 1), T0 + 1)  # allowed again
    for _ in range(3):
        throttle.failed(throttle.reserve(police.username, None, T0 + 2), T0 + 2)
    admin.reset_password(central.engine, police.username, by=OPERATOR)
    throttle.reserve(police.username, None, T0 + 3)
    unknown = CliRunner().invoke(cli, ["central", "user", "unlock", "nobody-" + police.username,
                                       "--db", central.db_url])
    assert unknown.exit_code == 1 and "unknown user" in unknown.output


def test_serve_takes_the_login_limits_and_refuses_nonsense() -> None:
    serve = CliRunner().invoke(cli, ["central", "serve", "--help"])
    for option in ("--login-attempts", "--login-address-attempts", "--login-window",
                   "--login-lockout", "--login-lockout-max", "--forwarded-allow-ips"):
        assert option in serve.output
    refused = CliRunner().invoke(cli, ["central", "serve", "--db", "sqlite://",
                                       "--login-attempts", "0"])
    assert refused.exit_code == 2 and "must be positive" in refused.output
