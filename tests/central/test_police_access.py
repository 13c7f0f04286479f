"""Accounts and access on the real server: login, the role matrix, CSRF, session expiry."""

from __future__ import annotations

from sqlalchemy import update

from central.accounts import admin
from central.db.tables import user_sessions
from tests.central.central_helpers import Admin, assert_error, fetch
from tests.central.police_helpers import OPERATOR, Browser, api_token, logged_in, make_user


def test_pages_need_a_login_and_cookies_are_locked_down(central: Admin) -> None:
    anonymous = Browser(central.url)
    for path in ("/", "/search", "/fleet", "/audit", "/stay/x"):
        reply = anonymous.get(path)
        assert (reply.status_code, reply.headers["location"]) == (303, "/login"), path
    user = make_user(central.engine, "officer")
    browser = Browser(central.url)
    browser.get("/login")
    form_cookie = browser.cookies["anju_login_csrf"]
    reply = browser.request("POST", "/login", data={
        "csrf": form_cookie, "username": user.username, "password": user.password})
    assert reply.status_code == 303
    set_cookie = reply.headers["set-cookie"].lower()
    assert "anju_session=" in set_cookie
    for attribute in ("httponly", "secure", "samesite=strict", "path=/"):
        assert attribute in set_cookie, set_cookie


def test_wrong_password_unknown_user_and_disabled_account_are_refused(central: Admin) -> None:
    user = make_user(central.engine, "officer")
    assert Browser(central.url).login(user.username, "wrong").status_code == 401
    assert Browser(central.url).login("nobody-" + user.username, "x").status_code == 401
    browser = Browser(central.url)
    assert browser.login(user.username, user.password).status_code == 303
    admin.set_disabled(central.engine, user.username, by=OPERATOR)
    assert browser.get("/search").status_code == 303  # the live session ended with it
    refused = Browser(central.url).login(user.username, user.password)
    assert refused.status_code == 401 and "账号已停用" in refused.text


def test_role_matrix(central: Admin) -> None:
    expected = {  # path -> roles that get 200
        "/search": {"officer", "supervisor", "administrator"},
        "/fleet": {"officer", "supervisor", "technician", "administrator"},
        "/audit": {"supervisor", "administrator"},
    }
    for role in ("officer", "supervisor", "technician", "administrator"):
        browser, _user = logged_in(central.url, central.engine, role)
        for path, allowed in expected.items():
            reply = browser.get(path)
            assert reply.status_code == (200 if role in allowed else 403), (role, path)
            if reply.status_code == 403:
                assert "无权" in reply.text
        home = browser.get("/")
        assert home.headers["location"] == ("/fleet" if role == "technician" else "/search")


def test_technician_sees_no_personal_data(central: Admin) -> None:
    from tests.central.police_helpers import id_number, unique_name
    from tests.sync.wire_helpers import guest

    client, chain = central.device()
    name, number = unique_name(), id_number()
    first = chain.check_in(guests=[guest(name, number)])
    client.send_events([first])
    browser, _user = logged_in(central.url, central.engine, "technician")
    fleet = browser.get("/fleet")
    assert fleet.status_code == 200 and chain.device_id in fleet.text
    assert name not in fleet.text and number not in fleet.text
    for reply in (browser.search(document=number, reason="测试案件"),
                  browser.get(f"/stay/{first.stay_id}", reason="测试案件", csrf=browser.csrf),
                  browser.get("/export.csv", document=number, reason="测试案件",
                              csrf=browser.csrf)):
        assert reply.status_code == 403 and number not in reply.text


def test_csrf_is_required_for_every_audited_act_and_for_logout(central: Admin) -> None:
    browser, user = logged_in(central.url, central.engine, "officer")
    before = len(central.rows("audit_log", username=user.username))
    for token in (None, "forged"):
        params = {"document": "110101199003070000", "reason": "案件 A-1"}
        if token:
            params["csrf"] = token
        for path in ("/search", "/export.csv", "/stay/some-stay"):
            reply = browser.get(path, **params)
            assert reply.status_code == 403 and "安全令牌" in reply.text, path
    assert len(central.rows("audit_log", username=user.username)) == before  # nothing ran
    assert browser.request("POST", "/logout", data={"csrf": "forged"}).status_code == 403
    assert browser.get("/search").status_code == 200  # still logged in
    # The login form refuses a post without its own token (login CSRF).
    fresh = Browser(central.url)
    refused = fresh.request("POST", "/login", data={"username": user.username,
                                                   "password": user.password})
    assert refused.status_code == 403
    out = browser.request("POST", "/logout", data={"csrf": browser.csrf})
    assert out.status_code == 303
    assert browser.get("/search").status_code == 303


def test_sessions_expire_when_idle(central: Admin) -> None:
    browser, user = logged_in(central.url, central.engine, "officer")
    assert browser.get("/search").status_code == 200
    with central.engine.begin() as conn:
        conn.execute(update(user_sessions).where(user_sessions.c.username == user.username)
                     .values(last_seen_s=user_sessions.c.last_seen_s - 31 * 60))
    assert browser.get("/search").headers.get("location") == "/login"
    assert central.rows("user_sessions", username=user.username) == []


def test_api_search_needs_a_valid_token_of_a_role_that_may_search(central: Admin) -> None:
    url = central.url + "/api/v1/search"
    params = {"document": "110101199003070000", "reason": "案件 B-1"}
    assert_error(fetch("GET", url, params=params), 401, "missing_token")
    assert_error(fetch("GET", url, params=params, headers={"Authorization": "Bearer nope"}),
                 401, "bad_token")
    tech = make_user(central.engine, "technician")
    tech_token = api_token(central.engine, tech.username)
    assert_error(fetch("GET", url, params=params,
                       headers={"Authorization": f"Bearer {tech_token}"}), 403, "forbidden")
    officer = make_user(central.engine, "officer")
    token = api_token(central.engine, officer.username)
    ok = fetch("GET", url, params=params, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json() == {"page": 1, "has_more": False, "stays": []}
    stored = central.rows("api_tokens", username=officer.username)
    assert len(stored) == 1 and token not in str(stored)  # only the hash is kept
    missing_reason = fetch("GET", url, params={"document": "x"},
                           headers={"Authorization": f"Bearer {token}"})
    assert_error(missing_reason, 400, "missing_reason")
    admin.set_disabled(central.engine, officer.username, by=OPERATOR)
    assert_error(fetch("GET", url, params=params, headers={"Authorization": f"Bearer {token}"}),
                 401, "bad_token")


def test_supervisors_manage_users_from_the_browser_with_csrf(central: Admin) -> None:
    import re

    officer, _ = logged_in(central.url, central.engine, "officer")
    assert officer.get("/users").status_code == 403
    supervisor, _ = logged_in(central.url, central.engine, "supervisor")
    assert supervisor.get("/users").status_code == 200
    name = "web-" + make_user(central.engine, "officer").username
    forged = supervisor.request("POST", "/users", data={
        "csrf": "forged", "action": "add", "username": name, "role": "officer"})
    assert forged.status_code == 403 and central.rows("users", username=name) == []
    added = supervisor.request("POST", "/users", data={
        "csrf": supervisor.csrf, "action": "add", "username": name, "role": "technician"})
    assert added.status_code == 200, added.text
    password = re.search(r'<code class="password">([^<]+)</code>', added.text).group(1)
    assert Browser(central.url).login(name, password).status_code == 303
    bad = supervisor.request("POST", "/users", data={
        "csrf": supervisor.csrf, "action": "add", "username": "x" + name, "role": "chief"})
    assert bad.status_code == 400 and "unknown role" in bad.text
    supervisor.request("POST", "/users", data={"csrf": supervisor.csrf, "action": "disable",
                                               "username": name})
    assert central.rows("users", username=name)[0]["disabled"]
    assert Browser(central.url).login(name, password).status_code == 401


def test_sessions_expire_after_ten_hours_however_busy(central: Admin) -> None:
    browser, user = logged_in(central.url, central.engine, "officer")
    with central.engine.begin() as conn:
        conn.execute(update(user_sessions).where(user_sessions.c.username == user.username)
                     .values(created_s=user_sessions.c.created_s - 10 * 3600 - 1))
    assert browser.get("/search").headers.get("location") == "/login"
