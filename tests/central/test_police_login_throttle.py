"""Login throttling on the real server, both backends: a lock after five failures per username
(from anywhere) or `--login-address-attempts` per client address (8 here, 30 by default), said
in Chinese with the time to come back, the same for unknown users, a right password refused
during the lock, success starting afresh, parallel guesses bounded, and failures logged with
the username masked.

Each test comes from addresses of its own (X-Forwarded-For, trusted from the loopback proxy),
so the shared test server's 127.0.0.1 is never locked for the other tests."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import update

from central.accounts.login_throttle import USER, key_of
from central.db.tables import login_throttle
from sync.privacy import mask_name
from tests.central.central_helpers import Admin, Reply
from tests.central.police_helpers import Browser, make_user
from tests.central.serverproc import CentralServer
from tests.forkserver import ForkServer

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
ADDRESS_LIMIT = 8  # failed logins per client address before a lock (the default is 30)
LOCKED = re.compile(r"登录失败次数过多，已暂时锁定。"
                    r"请于 (\d{4}-\d{2}-\d{2} \d{2}:\d{2})（北京时间，约 (\d+) 分钟后）再试。")


def address() -> str:
    return f"198.51.{secrets.randbelow(256)}.{secrets.randbelow(255) + 1}"


def post_login(base: str, username: str, password: str, source: str) -> Reply:
    browser = Browser(base)
    token = _CSRF.search(browser.get("/login").text)
    assert token
    return browser.request("POST", "/login", headers={"X-Forwarded-For": source}, data={
        "csrf": token.group(1), "username": username, "password": password})


def test_five_failures_lock_the_username_from_anywhere_and_the_page_says_until_when(
        central: Admin) -> None:
    user = make_user(central.engine, "officer")
    source = address()
    for _ in range(4):
        reply = post_login(central.url, user.username, "wrong", source)
        assert reply.status_code == 401 and "用户名或密码错误" in reply.text
    fifth = post_login(central.url, user.username, "wrong", source)
    assert fifth.status_code == 429
    locked = LOCKED.search(fifth.text)
    assert locked and locked.group(2) == "5", fifth.text
    assert 295 <= int(fifth.headers["retry-after"]) <= 300
    for source_now in (source, address()):  # the right password, even from elsewhere
        refused = post_login(central.url, user.username, user.password, source_now)
        assert refused.status_code == 429 and LOCKED.search(refused.text)
        assert "anju_session" not in refused.headers.get("set-cookie", "")
    # The lock ends (moved into the past here rather than waiting five minutes).
    with central.engine.begin() as conn:
        conn.execute(update(login_throttle).where(
            login_throttle.c.key_sha256 == key_of(USER, user.username))
            .values(locked_until_s=login_throttle.c.locked_until_s - 301))
    assert post_login(central.url, user.username, user.password, source).status_code == 303


def test_the_next_lock_is_longer(central: Admin) -> None:
    user = make_user(central.engine, "officer")
    for _ in range(5):
        post_login(central.url, user.username, "wrong", address())
    with central.engine.begin() as conn:
        conn.execute(update(login_throttle).where(
            login_throttle.c.key_sha256 == key_of(USER, user.username))
            .values(locked_until_s=login_throttle.c.locked_until_s - 301))
    replies = [post_login(central.url, user.username, "wrong", address()) for _ in range(5)]
    assert [r.status_code for r in replies] == [401] * 4 + [429]
    assert 595 <= int(replies[-1].headers["retry-after"]) <= 600
    assert LOCKED.search(replies[-1].text).group(2) == "10"


def test_an_unknown_username_is_locked_the_same_way(central: Admin) -> None:
    known = make_user(central.engine, "officer")
    unknown = "nobody-" + secrets.token_hex(4)
    answers = {}
    for name in (known.username, unknown):
        replies = [post_login(central.url, name, "wrong", address()) for _ in range(6)]
        answers[name] = [(r.status_code, r.headers.get("retry-after") is not None,
                          _CSRF.sub("CSRF", LOCKED.sub("LOCKED", r.text))) for r in replies]
        assert [r.status_code for r in replies] == [401] * 4 + [429, 429]
    assert answers[known.username] == answers[unknown]


def test_success_starts_the_username_afresh(central: Admin) -> None:
    user = make_user(central.engine, "officer")
    source = address()
    for _ in range(4):
        assert post_login(central.url, user.username, "wrong", source).status_code == 401
    assert post_login(central.url, user.username, user.password, source).status_code == 303
    assert central.rows("login_throttle", kind=USER,
                        key_sha256=key_of(USER, user.username)) == []
    for _ in range(4):  # four more before a lock, not one
        assert post_login(central.url, user.username, "wrong", source).status_code == 401


@pytest.fixture(scope="module")
def spray_server(db_url: str, tmp_path_factory: pytest.TempPathFactory,
                 fork_server: ForkServer) -> Iterator[CentralServer]:
    """A server of its own that locks an address after ADDRESS_LIMIT failures instead of the
    default 30: each failure is an argon2 check (0.2 s of CPU), and the count is a setting."""
    log = tmp_path_factory.mktemp("central-spray") / "server.log"
    with CentralServer(db_url, log, extra_args=(
            "--login-address-attempts", str(ADDRESS_LIMIT)), forks=fork_server) as process:
        yield process


def test_failures_from_one_address_lock_it_for_every_username(
        spray_server: CentralServer) -> None:
    source = address()
    with Admin(spray_server.db_url, spray_server.url) as spray, \
            ThreadPoolExecutor(4) as pool:  # four usernames at a time, each below its own limit
        replies = list(pool.map(lambda i: post_login(spray.url, f"spray-{i % 8}-{source}",
                                                     "wrong", source), range(ADDRESS_LIMIT)))
        assert {r.status_code for r in replies} <= {401, 429}
        user = make_user(spray.engine, "officer")
        refused = post_login(spray.url, user.username, user.password, source)
        assert refused.status_code == 429 and LOCKED.search(refused.text)
        assert post_login(spray.url, user.username, user.password, address()).status_code == 303


def test_parallel_guesses_check_no_more_than_five_passwords(central: Admin,
                                                            server: CentralServer) -> None:
    user = make_user(central.engine, "officer")
    source = address()
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _i: post_login(central.url, user.username, "wrong",
                                                      source), range(16)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses.count(401) <= 5 and statuses.count(429) >= 11, statuses
    failures = [line for line in server.log().splitlines()
                if "failed login for" in line and line.endswith(f"from {source}")]
    assert len(failures) == 5, failures  # each is a password actually checked
    assert user.username not in server.log()
    assert f"failed login for {mask_name(user.username)} from {source}" in failures[0]


def test_a_supervisor_sees_a_lock_on_the_users_page_and_lifts_it(central: Admin) -> None:
    from tests.central.police_helpers import logged_in

    user = make_user(central.engine, "officer")
    for _ in range(5):
        post_login(central.url, user.username, "wrong", address())
    supervisor, _ = logged_in(central.url, central.engine, "supervisor")
    listed = supervisor.get("/users").text
    row = listed[listed.index(f'data-user="{user.username}"'):]
    row = row[:row.index("</tr>")]
    assert "登录已锁定至" in row and 'value="unlock"' in row
    forged = supervisor.request("POST", "/users", data={
        "csrf": "forged", "action": "unlock", "username": user.username})
    assert forged.status_code == 403
    assert post_login(central.url, user.username, user.password, address()).status_code == 429
    lifted = supervisor.request("POST", "/users", data={
        "csrf": supervisor.csrf, "action": "unlock", "username": user.username})
    assert lifted.status_code == 200 and "已解除" in lifted.text
    row = lifted.text[lifted.text.index(f'data-user="{user.username}"'):]
    assert "登录已锁定" not in row[:row.index("</tr>")]
    assert post_login(central.url, user.username, user.password, address()).status_code == 303
