"""Issue 14, finding 2: account management is scoped and audited. A district supervisor once
created a district-less officer and an administrator, reset another district's officer's
password and signed in as them, none of it audited. Each attack is replayed here through the
real server's /users page and now fails, changing nothing and writing no audit row; what a
user may do is audited (the hash chain still verifies)."""

from __future__ import annotations

import json
import re
import secrets

from central.accounts import audit, principals
from tests.central.central_helpers import Admin, fetch
from tests.central.police_helpers import Browser, api_token, logged_in, make_user

_PASSWORD = re.compile(r'<code class="password">([^<]+)</code>')


def post(browser: Browser, action: str, **form: str) -> tuple[int, str]:
    reply = browser.request("POST", "/users", data={"csrf": browser.csrf, "action": action,
                                                    **form})
    return reply.status_code, reply.text


def account_rows(central: Admin, actor: str) -> list[tuple[str, dict[str, object]]]:
    rows = sorted(central.rows("audit_log", username=actor), key=lambda r: r["id"])
    return [(r["action"], json.loads(r["query"])) for r in rows]


def district() -> str:
    return "区" + secrets.token_hex(3)


def test_a_district_supervisor_cannot_create_a_district_less_user_nor_a_peer_or_superior(
        central: Admin) -> None:
    ours = district()
    supervisor, boss = logged_in(central.url, central.engine, "supervisor", ours)
    page = supervisor.get("/users").text
    assert set(re.findall(r'<option value="(\w+)"', page)) == {"officer", "technician"}
    name = "new-" + secrets.token_hex(4)
    attacks = [{"role": "officer"},  # no district: would see every district
               {"role": "officer", "district": district()},  # another district
               {"role": "administrator", "district": ours},
               {"role": "supervisor", "district": ours}]  # a peer to act through
    for form in attacks:
        status, text = post(supervisor, "add", username=name, **form)
        assert status == 403 and "无权执行此操作" in text, (form, status)
        assert _PASSWORD.search(text) is None
        assert central.rows("users", username=name) == [], form
    assert account_rows(central, boss.username) == []  # refused acts write nothing
    status, text = post(supervisor, "add", username=name, role="officer", district=ours)
    assert status == 200 and _PASSWORD.search(text)
    assert central.rows("users", username=name)[0]["district"] == ours
    assert account_rows(central, boss.username) == [
        ("user_add", {"user": name, "role": "officer", "district": ours})]
    assert audit.verify(central.engine).ok


def test_a_supervisor_cannot_reset_a_password_nor_move_or_touch_another_district(
        central: Admin) -> None:
    ours, theirs = district(), district()
    supervisor, boss = logged_in(central.url, central.engine, "supervisor", ours)
    victim = make_user(central.engine, "officer", theirs)
    own = make_user(central.engine, "officer", ours)
    page = supervisor.get("/users").text
    assert f'data-user="{own.username}"' in page
    assert victim.username not in page  # another district's users are not even listed
    assert 'value="reset"' not in page and 'value="token_issue"' not in page
    refused = [("reset", {"username": victim.username}),
               ("reset", {"username": own.username}),  # resets are for administrators
               ("token_issue", {"username": own.username}),
               ("disable", {"username": victim.username}),
               ("change", {"username": victim.username, "role": "officer", "district": ours}),
               ("change", {"username": own.username, "role": "officer", "district": theirs}),
               ("change", {"username": own.username, "role": "officer", "district": ""}),
               ("change", {"username": own.username, "role": "administrator",
                           "district": ours})]
    for action, form in refused:
        status, text = post(supervisor, action, **form)
        assert status == 403, (action, form, status)
        assert _PASSWORD.search(text) is None and "anju_" not in text
    for user, where in ((victim, theirs), (own, ours)):
        (row,) = central.rows("users", username=user.username)
        assert (row["role"], row["district"], row["disabled"]) == ("officer", where, False)
        assert Browser(central.url).login(user.username, user.password).status_code == 303
    assert central.rows("api_tokens", username=own.username) == []
    assert account_rows(central, boss.username) == []
    # What a district supervisor may do, within the district: audited, in order.
    assert post(supervisor, "disable", username=own.username)[0] == 200
    assert post(supervisor, "enable", username=own.username)[0] == 200
    assert post(supervisor, "change", username=own.username, role="technician",
                district=ours)[0] == 200
    assert post(supervisor, "unlock", username=own.username)[0] == 200
    assert [a for a, _q in account_rows(central, boss.username)] == [
        "user_disable", "user_enable", "user_change", "user_unlock"]
    assert central.rows("users", username=own.username)[0]["role"] == "technician"
    assert audit.verify(central.engine).ok


def test_the_impersonation_of_the_finding_fails_and_an_administrator_reset_is_audited(
        central: Admin) -> None:
    ours, theirs = district(), district()
    supervisor, _boss = logged_in(central.url, central.engine, "supervisor", ours)
    victim = make_user(central.engine, "officer", theirs)
    status, _text = post(supervisor, "reset", username=victim.username)
    assert status == 403
    admin, chief = logged_in(central.url, central.engine, "administrator")
    victim_browser = Browser(central.url)
    assert victim_browser.login(victim.username, victim.password).status_code == 303
    token = api_token(central.engine, victim.username)
    status, text = post(admin, "reset", username=victim.username)
    assert status == 200, text
    new_password = _PASSWORD.search(text).group(1)  # type: ignore[union-attr]
    assert victim_browser.get("/search").headers.get("location") == "/login"  # session ended
    assert Browser(central.url).login(victim.username, victim.password).status_code == 401
    assert Browser(central.url).login(victim.username, new_password).status_code == 303
    assert _api_status(central, token) == 401  # the reset revoked the token too
    (row,) = [q for a, q in account_rows(central, chief.username) if a == "user_reset"]
    assert row["user"] == victim.username and len(row["tokens_revoked"]) == 1  # type: ignore[arg-type]
    assert new_password not in str(central.rows("audit_log", username=chief.username))
    # No one resets or disables a peer: an administrator manages administrators from the CLI.
    peer = make_user(central.engine, "administrator")
    for action in ("reset", "disable", "token_issue"):
        assert post(admin, action, username=peer.username)[0] == 403
    assert Browser(central.url).login(peer.username, peer.password).status_code == 303
    page = admin.get("/audit").text
    assert "user_reset" in page and audit.verify(central.engine).ok


def _api_status(central: Admin, token: str) -> int:
    reply = fetch("GET", central.url + "/api/v1/search", headers={
        "Authorization": f"Bearer {token}"}, params={"name": "无此人", "reason": "令牌 2025-01"})
    return reply.status_code


def test_the_cli_changes_role_and_district_lists_users_and_audits_as_the_operator(
        central: Admin) -> None:
    from click.testing import CliRunner

    from terminal.cli import cli

    def run(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["central", "user", *args, "--db", central.db_url])
        return result.exit_code, result.stdout  # stderr names the database

    officer = make_user(central.engine, "officer", "甲区")
    assert run("set", officer.username, "--district", "乙区", "--no-district")[0] == 2
    assert run("set", officer.username, "--role", "supervisor", "--district", "乙区")[0] == 0
    (row,) = central.rows("users", username=officer.username)
    assert (row["role"], row["district"]) == ("supervisor", "乙区")
    assert run("set", officer.username, "--no-district")[0] == 0
    assert central.rows("users", username=officer.username)[0]["district"] is None
    code, listed = run("list", "--json")
    mine = [json.loads(line) for line in listed.splitlines()
            if json.loads(line)["username"] == officer.username]
    assert code == 0 and mine[0]["role"] == "supervisor" and mine[0]["live_tokens"] == 0
    changes = [json.loads(r["query"]) for r in central.rows("audit_log", action="user_change")
               if officer.username in r["query"]]
    assert [(c.get("district"), c["was"]) for c in changes] == [
        ("乙区", {"role": "officer", "district": "甲区"}),
        (None, {"role": "supervisor", "district": "乙区"})]
    assert {r["role"] for r in central.rows("audit_log", action="user_change")
            if officer.username in r["query"]} == {"operator"}
    assert audit.verify(central.engine).ok


def test_an_unknown_username_is_verified_against_a_hash_of_the_hasher_s_own_parameters() -> None:
    # The stand-in hash costs the same to verify as a real one only while its argon2
    # parameters are those every password is hashed with now.
    assert principals.DUMMY_HASH.startswith("$argon2id$")
    assert not principals.hasher.check_needs_rehash(principals.DUMMY_HASH)
