"""The audit log: written by every act, refused UPDATE/DELETE by the database itself (for the
server's own connection too), hash-chained and verified; the CLI for users and the audit log."""

from __future__ import annotations

import json
import secrets
from itertools import pairwise
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from central.accounts import audit, principals
from central.accounts.principals import Principal
from central.db.engine import make_engine
from central.db.tables import audit_log
from central.migrate import migrate
from terminal.cli import cli
from tests.central.central_helpers import Admin, fetch
from tests.central.police_helpers import Browser, id_number, logged_in

WHO = Principal("probe", "officer", None)


def test_update_delete_and_truncate_are_refused_by_the_database(central: Admin) -> None:
    row_id = audit.append(central.engine, WHO, "search", "不可篡改", {"document": "x"}, 0)
    attempts = [update(audit_log).where(audit_log.c.id == row_id).values(reason="改过"),
                delete(audit_log).where(audit_log.c.id == row_id), delete(audit_log)]
    if central.engine.dialect.name == "postgresql":
        attempts.append(text("TRUNCATE audit_log"))
    for statement in attempts:
        with pytest.raises(DBAPIError, match="append-only"), central.engine.begin() as conn:
            conn.execute(statement)
    (row,) = central.rows("audit_log", id=row_id)
    assert row["reason"] == "不可篡改"


def test_the_chain_verifies_and_links_every_row(central: Admin) -> None:
    for i in range(3):
        audit.append(central.engine, WHO, "search", f"链 {i}", {"name": "张"}, i)
    report = audit.verify(central.engine)
    assert report.ok and report.rows == audit.count(central.engine)
    rows = sorted(central.rows("audit_log"), key=lambda r: r["id"])
    assert rows[0]["prev_sha256"] == audit.GENESIS
    assert all(b["prev_sha256"] == a["row_sha256"] for a, b in pairwise(rows))


def test_an_edited_restore_is_caught_by_the_chain(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'central.db'}", pooled=False)
    try:
        migrate(engine)
        ids = [audit.append(engine, WHO, "search", f"r{i}", {"document": str(i)}, 1)
               for i in range(4)]
        assert audit.verify(engine).ok
        with engine.begin() as conn:  # what an edited dump restored without the triggers does
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(update(audit_log).where(audit_log.c.id == ids[2])
                         .values(result_count=0))
        assert audit.verify(engine).first_bad_id == ids[2]
        result = CliRunner().invoke(cli, ["central", "audit", "verify", "--db",
                                          str(engine.url)])
        assert result.exit_code == 1 and f"broken at row {ids[2]}" in result.output
    finally:
        engine.dispose()


def test_the_application_role_has_no_update_or_delete_privilege(central: Admin) -> None:
    """PostgreSQL: run as a non-superuser granted what docs/police.md grants `anju_app`."""
    if central.engine.dialect.name != "postgresql":
        pytest.skip("privileges are a PostgreSQL matter; SQLite relies on the triggers")
    import psycopg

    url = make_url(central.db_url)
    schema = url.query["options"].split("=", 1)[1]
    role = f"anju_probe_{secrets.token_hex(4)}"
    admin = {"host": url.host, "port": url.port or 5432, "user": url.username,
             "dbname": url.database}
    with psycopg.connect(autocommit=True, **admin) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO {role}')
        conn.execute(f'GRANT SELECT, INSERT ON "{schema}".audit_log TO {role}')
    try:
        with psycopg.connect(autocommit=True, **{**admin, "user": role},
                             options=f"-csearch_path={schema}") as conn:
            assert conn.execute("SELECT count(*) FROM audit_log").fetchone() is not None
            for sql in ("UPDATE audit_log SET reason = 'x'", "DELETE FROM audit_log"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege,
                                   match="permission denied"):
                    conn.execute(sql)
    finally:
        with psycopg.connect(autocommit=True, **admin) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_every_act_of_a_session_is_audited_in_order(central: Admin) -> None:
    client, chain = central.device()
    number = id_number()
    from tests.sync.wire_helpers import guest

    first = chain.check_in(guests=[guest("审计甲", number)])
    client.send_events([first])
    browser, user = logged_in(central.url, central.engine, "officer")
    browser.search(document=number, reason="案件 1 号")
    browser.get(f"/stay/{first.stay_id}", reason="案件 2 号", csrf=browser.csrf)
    browser.get("/export.csv", document=number, reason="案件 3 号", csrf=browser.csrf)
    rows = sorted(central.rows("audit_log", username=user.username), key=lambda r: r["id"])
    assert [(r["action"], r["reason"], r["result_count"]) for r in rows] == [
        ("search", "案件 1 号", 1), ("view", "案件 2 号", 1), ("export", "案件 3 号", 1)]
    assert audit.verify(central.engine).ok
    # An officer cannot read the log; a supervisor can, and sees these rows.
    assert browser.get("/audit").status_code == 403
    supervisor, _ = logged_in(central.url, central.engine, "supervisor")
    page = supervisor.get("/audit")
    assert page.status_code == 200 and "哈希链校验通过" in page.text and user.username in page.text


def test_cli_users_tokens_and_audit_list(central: Admin) -> None:
    runner = CliRunner()
    db = ["--db", central.db_url]
    name = "cli-" + secrets.token_hex(4)
    added = runner.invoke(cli, ["central", "user", "add", name, "--role", "officer", *db])
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith(f"password for {name} (shown once): ")
    password = added.stdout.strip().rsplit(" ", 1)[1]
    assert f"database: {central.db_url.split('://')[0]}" in added.stderr
    assert Browser(central.url).login(name, password).status_code == 303
    bad_role = runner.invoke(cli, ["central", "user", "add", "x" + name, "--role", "chief", *db])
    assert bad_role.exit_code == 2
    reset = runner.invoke(cli, ["central", "user", "reset", name, *db])
    new_password = reset.stdout.strip().rsplit(" ", 1)[1]
    assert reset.exit_code == 0 and new_password != password
    assert Browser(central.url).login(name, password).status_code == 401
    assert Browser(central.url).login(name, new_password).status_code == 303
    issued = runner.invoke(cli, ["central", "user", "api-token", name, *db])
    token = issued.stdout.strip()
    reply = fetch("GET", central.url + "/api/v1/search", headers={
        "Authorization": f"Bearer {token}"}, params={"name": "无此人", "reason": "命令行 2025-01"})
    assert reply.status_code == 200
    listed = runner.invoke(cli, ["central", "audit", "list", "--json", "--user", name, *db])
    (line,) = listed.stdout.strip().splitlines()
    row = json.loads(line)
    assert (row["username"], row["action"], row["reason"]) == (name, "api_search", "命令行 2025-01")
    table = runner.invoke(cli, ["central", "audit", "list", "--user", name, *db])
    assert "api_search" in table.output and "命令行 2025-01" in table.output
    disabled = runner.invoke(cli, ["central", "user", "disable", name, *db])
    assert disabled.exit_code == 0
    assert Browser(central.url).login(name, new_password).status_code == 401
    unknown = runner.invoke(cli, ["central", "user", "reset", "nobody-" + name, *db])
    assert unknown.exit_code == 1 and "unknown user" in unknown.output
    site = central.site()
    moved = runner.invoke(cli, ["central", "site", "district", site, "天河", *db])
    assert moved.exit_code == 0
    assert central.rows("site_districts", site_code=site)[0]["district"] == "天河"
    assert principals.ROLES["technician"] == frozenset({"fleet"})
