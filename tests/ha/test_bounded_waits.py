"""Bounded waits on PostgreSQL: a hung database (every process of it SIGSTOPped: the kernel
still accepts TCP, nothing answers) gives 503 + Retry-After and a CLI error, never a hung
request or command; once it runs again, everything works without a restart."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url

from central.cli.context import admin_engine
from central.db.bounds import DbBounds
from central.db.engine import make_engine
from central.db.failures import is_unavailable
from tests.central.background_statement import BackgroundStatement
from tests.central.central_helpers import Admin, assert_error, fetch
from tests.central.police_helpers import api_token, logged_in, make_user
from tests.central.serverproc import CentralServer
from tests.ha.conftest import DB_RETRY_AFTER_S
from tests.pgpair import PgPair
from tests.pgschema import PostgresUnavailable, create_schema, drop_schema

CLIENT_TIMEOUT_S = 15  # far above the server's bounds: reaching it means a hung request


def test_session_carries_the_server_side_timeouts() -> None:
    try:
        url, schema = create_schema("anju_bounds")
    except PostgresUnavailable as err:
        pytest.skip(str(err))
    engine = make_engine(
        url, pooled=False, bounds=DbBounds(statement_timeout_s=7, lock_timeout_s=1.5)
    )
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "7s"
            assert conn.execute(text("SHOW lock_timeout")).scalar() == "1500ms"
            # The URL's own options (the schema) survive beside them.
            assert conn.execute(text("SELECT current_schema()")).scalar() == schema
    finally:
        engine.dispose()
        drop_schema(schema)


def test_a_pinged_checkout_starts_idle_so_autocommit_can_be_chosen() -> None:
    # The checkout ping used to leave its transaction open: VACUUM (bench_police's load) then
    # failed with "can't change 'autocommit' now: connection in transaction status INTRANS".
    try:
        url, schema = create_schema("anju_ping")
    except PostgresUnavailable as err:
        pytest.skip(str(err))
    engine = make_engine(url, pooled=True)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE vacuumed (n integer)"))
        for _ in range(2):  # a new connection, then one taken again from the pool
            with engine.connect() as conn:
                # A table of this schema: a bare VACUUM would scan every schema of the shared
                # database `test` (another's millions of rows hit the statement timeout).
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                    text("VACUUM vacuumed")
                )
    finally:
        engine.dispose()
        drop_schema(schema)


def test_the_url_wins_over_the_default_connect_arguments() -> None:
    bounds = DbBounds(connect_timeout_s=4)
    args = bounds.connect_args(make_url("postgresql+psycopg://u@h/db?connect_timeout=9"))
    assert "connect_timeout" not in args
    assert args["keepalives"] == 1 and args["keepalives_idle"] == 10
    assert bounds.connect_args(make_url("postgresql+psycopg://u@h/db"))["connect_timeout"] == 4
    with pytest.raises(ValueError):
        DbBounds(connect_timeout_s=1)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from terminal.cli import main; main()", "central", *args],
        capture_output=True,
        text=True,
        timeout=CLIENT_TIMEOUT_S * 2,
    )


def test_a_hung_database_answers_503_fast_and_recovers(
    pg_pair: PgPair, fast_server: CentralServer
) -> None:
    with Admin(fast_server.db_url, fast_server.url) as admin:
        client, chain = admin.device()
        client.send_events(chain.stays(1))
        user = make_user(admin.engine, "officer")
        bearer = {"Authorization": f"Bearer {api_token(admin.engine, user.username)}"}
        search = {"headers": bearer, "params": {"name": "王", "reason": "案件 A-1"}}
        browser, _user = logged_in(fast_server.url, admin.engine, "supervisor")
        health = fetch("GET", fast_server.url + "/healthz").json()
        assert health["status"] == "ok" and health["database"] == "primary"

        pg_pair.primary.freeze()
        try:
            for path, kwargs in (("/healthz", {}), ("/api/v1/search", search)):
                with requests.get(
                    fast_server.url + path, timeout=CLIENT_TIMEOUT_S, **kwargs
                ) as reply:
                    error = assert_error(reply, 503, "database_unavailable")
                    # --db-retry-after: a failover is over in seconds (not --retry-after's 5)
                    assert int(reply.headers["Retry-After"]) == DB_RETRY_AFTER_S, path
                    assert error["retry_after_s"] == DB_RETRY_AFTER_S
            with requests.get(fast_server.url + "/metrics", timeout=CLIENT_TIMEOUT_S) as reply:
                assert reply.status_code == 200  # the process's own figures, and that it is down
                assert "\nanju_database_up 0\n" in reply.text
                assert "anju_events_stored_total" not in reply.text
            page = browser.get("/fleet")  # a police page: the same, in Chinese, as a page
            assert page.status_code == 503
            assert int(page.headers["Retry-After"]) == DB_RETRY_AFTER_S
            assert "数据库暂时无响应，请稍后重试。" in page.text
            cli = _cli("devices", "list", "--db", pg_pair.primary.url)
            assert cli.returncode == 1, cli
            assert "database is not answering" in cli.stderr, cli.stderr
            assert "Traceback" not in cli.stderr
        finally:
            pg_pair.primary.thaw()

        # The same server process, no restart: the stale connections were dropped.
        answer = client.send_events([chain.check_in()])
        assert [r.status for r in answer.results] == ["accepted"]
        assert len(admin.rows("events", device_id=chain.device_id)) == 2
        assert fetch("GET", fast_server.url + "/healthz").status_code == 200
        metrics = fetch("GET", fast_server.url + "/metrics").text
        assert "\nanju_database_up 1\n" in metrics
        assert "\nanju_db_unavailable_total 0\n" not in metrics
        with requests.get(
            fast_server.url + "/api/v1/search", timeout=CLIENT_TIMEOUT_S, **search
        ) as reply:
            assert reply.status_code == 200, reply.text
        assert _cli("devices", "list", "--db", pg_pair.primary.url).returncode == 0


def test_a_purge_s_long_statements_are_still_cut_when_the_database_hangs(
    pg_pair: PgPair,
) -> None:
    # The purge may run a statement for half an hour (a province's month of feed records is one
    # delete), so its statement bound cannot find a hang: its watchdog does, in seconds.
    with admin_engine(pg_pair.primary.url, bounds=DbBounds(statement_timeout_s=1234),
                      watched=True) as engine:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "1234s"
        worker = BackgroundStatement(engine, "SELECT pg_sleep(60)").start()
        time.sleep(0.5)  # the statement sent and running
        pg_pair.primary.freeze()
        try:
            assert worker.ended_within(CLIENT_TIMEOUT_S), (
                "the purge's statement waited on a hung database")
            assert len(worker.errors) == 1 and is_unavailable(worker.errors[0])
        finally:
            pg_pair.primary.thaw()
            worker.ended_within(70)
