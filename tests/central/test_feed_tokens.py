"""Issue 18: feed tokens are their own kind: issued by an administrator (or the CLI) for a named
system, optionally limited to districts, rate-limited, revocable, expiring; a feed token cannot
search and a search token cannot pull the feed; issuing and revoking are audited."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from central.accounts import audit
from central.accounts.principals import Principal
from central.db.tables import feed_tokens
from central.errors import ForbiddenError
from central.feed import tokens
from sync.fields import format_utc
from terminal.cli import cli
from tests.central.central_helpers import Admin, assert_error, fetch
from tests.central.feed_helpers import feed_token, page, pull_all, records
from tests.central.police_helpers import api_token, make_user


def test_a_feed_token_cannot_search_and_a_search_token_cannot_pull(central: Admin) -> None:
    officer = make_user(central.engine, "officer")
    search_token = api_token(central.engine, officer.username)
    assert_error(page(central, search_token), 403, "wrong_token_kind")
    token = feed_token(central)
    searched = fetch(
        "GET",
        central.url + "/api/v1/search",
        headers={"Authorization": f"Bearer {token}"},
        params={"name": "王", "reason": "试"},
    )
    assert_error(searched, 403, "wrong_token_kind")
    assert_error(page(central, "anjufeed_" + "x" * 43), 401, "bad_token")
    assert_error(fetch("GET", central.url + "/api/v1/feed"), 401, "missing_token")
    assert_error(page(central, token, "-1"), 400, "invalid_field")
    assert_error(page(central, token, limit="0"), 400, "invalid_field")
    assert_error(page(central, token, format="pdf"), 400, "invalid_field")


def test_a_district_token_sees_only_its_districts_stays(central: Admin) -> None:
    inside, outside = central.site(), central.site()
    for code, district in ((inside, "天河"), (outside, "越秀")):
        from central.accounts.principals import set_site_district

        set_site_district(central.engine, code, district)
    for code in (inside, outside):
        client, chain = central.device(code)
        client.send_events(chain.stays(2))
    taken = pull_all(central, feed_token(central, "天河分局", districts=["天河"]))[0]
    sites = {r["stay"]["site_code"] for r in taken}
    assert inside in sites and outside not in sites
    everything = pull_all(central, feed_token(central, "市局"))[0]
    assert {inside, outside} <= {r["stay"]["site_code"] for r in everything}


def test_only_administrators_issue_and_a_district_administrator_only_for_the_district(
    central: Admin,
) -> None:
    supervisor = Principal("sup", "supervisor", None)
    with pytest.raises(ForbiddenError):
        tokens.issue(central.engine, "x", by=supervisor)
    local = Principal("adm", "administrator", "天河")
    with pytest.raises(ForbiddenError):
        tokens.issue(central.engine, "x", by=local)  # every district: not theirs to give
    with pytest.raises(ForbiddenError):
        tokens.issue(central.engine, "x", by=local, districts=["越秀"])
    value, row = tokens.issue(central.engine, "天河平台", by=local, districts=["天河"])
    assert row["districts"] == ["天河"] and value.startswith("anjufeed_")
    assert records(page(central, value)) is not None


def test_revoked_and_expired_tokens_are_refused_and_acts_audited(central: Admin) -> None:
    runner = CliRunner()
    issued = runner.invoke(
        cli,
        ["central", "feed", "token", "issue", "案件系统", "--ttl", "2d", "--db", central.db_url],
    )
    assert issued.exit_code == 0, issued.output
    value = issued.stdout.strip()
    token_id = re.search(r"feed token (\w+) for", issued.stderr).group(1)  # type: ignore[union-attr]
    assert page(central, value).status_code == 200
    listed = runner.invoke(
        cli, ["central", "feed", "token", "list", "--json", "--db", central.db_url]
    )
    mine = [
        json.loads(line)
        for line in listed.stdout.splitlines()
        if json.loads(line)["id"] == token_id
    ]
    assert mine and mine[0]["system"] == "案件系统" and value not in listed.stdout
    revoked = runner.invoke(
        cli, ["central", "feed", "token", "revoke", token_id, "--db", central.db_url]
    )
    assert revoked.exit_code == 0, revoked.output
    assert_error(page(central, value), 401, "bad_token")
    acts = [
        (r["action"], json.loads(r["query"]).get("token"))
        for r in audit.rows(central.engine, limit=20)
    ]
    assert ("feed_issue", token_id) in acts and ("feed_revoke", token_id) in acts
    assert all(value not in r["query"] for r in audit.rows(central.engine, limit=20))

    other = feed_token(central, "过期系统")
    with central.engine.begin() as conn:
        conn.execute(
            update(feed_tokens)
            .where(feed_tokens.c.system == "过期系统")
            .values(expires_at=format_utc(datetime.now(UTC) - timedelta(seconds=1)))
        )
    assert_error(page(central, other), 401, "bad_token")
    assert audit.verify(central.engine).ok


def test_a_token_over_its_rate_is_told_when_to_come_back(central: Admin) -> None:
    token = feed_token(central, "频繁系统", rate_per_minute=3)
    assert [page(central, token).status_code for _ in range(3)] == [200, 200, 200]
    refused = page(central, token)
    error = assert_error(refused, 429, "rate_limited")
    assert 1 <= int(refused.headers["Retry-After"]) <= 60 and error["retry_after_s"] >= 1
    assert page(central, feed_token(central, "别的系统")).status_code == 200  # per token
