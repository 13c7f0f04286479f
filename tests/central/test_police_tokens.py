"""Issue 14, finding 8: API tokens could not be revoked one by one, never expired, survived a
password reset and came back when a disabled user was re-enabled. Each case on the real server,
from the CLI and from /users, with the audit chain verifying afterwards; and migration 0009
gives the tokens issued before it an end."""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alembic import command
from click.testing import CliRunner, Result
from sqlalchemy import insert, update

from central.accounts import audit
from central.db.engine import make_engine
from central.db.tables import api_tokens, users
from central.migrate import alembic_config, migrate
from sync.fields import format_utc, parse_utc
from terminal.cli import cli
from tests.central.central_helpers import Admin, fetch
from tests.central.police_helpers import Browser, logged_in, make_user


def api_status(central: Admin, token: str) -> int:
    reply = fetch("GET", central.url + "/api/v1/search", headers={
        "Authorization": f"Bearer {token}"}, params={"name": "无此人", "reason": "令牌 2025-01"})
    return reply.status_code


def run(central: Admin, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["central", "user", *args, "--db", central.db_url])
    assert result.exit_code == 0, result.output
    return result


def tokens(central: Admin, name: str) -> dict[str, dict[str, str]]:
    listed = run(central, "tokens", name, "--all", "--json").stdout.splitlines()
    return {row["id"]: row for row in map(json.loads, listed)}


def test_tokens_are_revoked_one_by_one_expire_and_end_with_reset_and_disable(
        central: Admin) -> None:
    officer = make_user(central.engine, "officer")
    name = officer.username
    first = run(central, "api-token", name)
    second = run(central, "api-token", name, "--ttl", "2d")
    values = [first.stdout.strip(), second.stdout.strip()]
    assert all(api_status(central, v) == 200 for v in values)
    listed = tokens(central, name)
    assert len(listed) == 2 and all(v not in json.dumps(listed) for v in values)
    ids = [re.search(r"token (\w+) for", r.stderr).group(1) for r in (first, second)]  # type: ignore[union-attr]
    expires = parse_utc(listed[ids[1]]["expires_at"]) - datetime.now(UTC)
    assert timedelta(days=2) - timedelta(minutes=5) < expires <= timedelta(days=2)
    assert parse_utc(listed[ids[0]]["expires_at"]) - datetime.now(UTC) > timedelta(days=89)

    run(central, "revoke-token", name, ids[0])  # one by one
    assert [api_status(central, v) for v in values] == [401, 200]
    again = CliRunner().invoke(cli, ["central", "user", "revoke-token", name, ids[0],
                                     "--db", central.db_url])
    assert again.exit_code == 1 and "no live token" in again.output

    with central.engine.begin() as conn:  # the second token's lifetime has run out
        conn.execute(update(api_tokens).where(api_tokens.c.token_sha256.like(ids[1] + "%"))
                     .values(expires_at=format_utc(datetime.now(UTC) - timedelta(seconds=1))))
    assert api_status(central, values[1]) == 401
    assert tokens(central, name)[ids[1]]["state"] == "expired"
    assert run(central, "tokens", name).stdout.count("\n") == 2  # header and "(none)"

    third = run(central, "api-token", name).stdout.strip()
    run(central, "reset", name)
    assert api_status(central, third) == 401
    fourth = run(central, "api-token", name).stdout.strip()
    assert api_status(central, fourth) == 200
    run(central, "disable", name)
    assert api_status(central, fourth) == 401
    run(central, "enable", name)
    assert api_status(central, fourth) == 401  # re-enabling revives nothing
    reasons = sorted(str(t["revoked_reason"]) for t in tokens(central, name).values())
    # the expired one is revoked by the reset as well, so it can never come back either
    assert reasons == ["disabled", "reset", "reset", "revoked"]
    assert api_status(central, run(central, "api-token", name).stdout.strip()) == 200

    actors = {r["username"] for r in central.rows("audit_log") if f'"user":"{name}"' in r["query"]}
    assert len(actors) == 1 and next(iter(actors)).startswith("cli:")
    actions = [r["action"] for r in sorted(central.rows("audit_log"), key=lambda r: r["id"])
               if f'"user":"{name}"' in r["query"]]
    assert actions == ["user_add", "token_issue", "token_issue", "token_revoke", "token_issue",
                       "user_reset", "token_issue", "user_disable", "user_enable",
                       "token_issue"]
    verified = CliRunner().invoke(cli, ["central", "audit", "verify", "--db", central.db_url])
    assert verified.exit_code == 0 and "audit chain verifies" in verified.output


def test_administrators_issue_list_and_revoke_tokens_on_the_users_page(central: Admin) -> None:
    where = "区" + secrets.token_hex(3)
    officer = make_user(central.engine, "officer", where)
    admin, chief = logged_in(central.url, central.engine, "administrator")
    issued = admin.request("POST", "/users", data={
        "csrf": admin.csrf, "action": "token_issue", "username": officer.username})
    assert issued.status_code == 200, issued.text
    value = re.search(r'<code class="token">(anju_[^<]+)</code>', issued.text).group(1)  # type: ignore[union-attr]
    assert api_status(central, value) == 200
    page = admin.get("/users").text
    assert value not in page  # shown once, on the answer to the POST
    row = page[page.index(f'data-user="{officer.username}"'):]
    row = row[:row.index("</tr>")]
    token_id = re.search(r'data-token="(\w+)"', row).group(1)  # type: ignore[union-attr]
    assert "有效期至" in row
    # A supervisor of the district may take a token away, never issue one.
    supervisor, boss = logged_in(central.url, central.engine, "supervisor", where)
    refused = supervisor.request("POST", "/users", data={
        "csrf": supervisor.csrf, "action": "token_issue", "username": officer.username})
    assert refused.status_code == 403 and "anju_" not in refused.text
    revoked = supervisor.request("POST", "/users", data={
        "csrf": supervisor.csrf, "action": "token_revoke", "username": officer.username,
        "token": token_id})
    assert revoked.status_code == 200 and f'data-token="{token_id}"' not in revoked.text
    assert api_status(central, value) == 401
    assert [(r["action"], json.loads(r["query"])["token"]) for r in
            central.rows("audit_log", username=boss.username)] == [("token_revoke", token_id)]
    assert [r["action"] for r in central.rows("audit_log", username=chief.username)] == [
        "token_issue"]
    assert audit.verify(central.engine).ok
    assert Browser(central.url).login(officer.username, officer.password).status_code == 303


def test_migration_0009_gives_older_tokens_an_end(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'central.db'}", pooled=False)
    try:
        config = alembic_config()
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0007")
        now = format_utc(datetime.now(UTC))
        with engine.begin() as conn:
            conn.execute(insert(users).values(username="old", role="officer", password_hash="x",
                                              disabled=False, created_at=now,
                                              password_set_at=now))
            for key, revoked in (("a" * 64, None), ("b" * 64, now)):
                conn.execute(insert(api_tokens).values(  # only the columns 0007 has
                    token_sha256=key, username="old", created_at=now, revoked_at=revoked))
        migrate(engine)
        with engine.connect() as conn:
            rows = {r.token_sha256[0]: r for r in conn.execute(api_tokens.select())}
        end = parse_utc(rows["a"].expires_at) - datetime.now(UTC)
        assert timedelta(days=89) < end <= timedelta(days=90)
        assert (rows["a"].revoked_reason, rows["b"].revoked_reason) == (None, "revoked")
    finally:
        engine.dispose()
