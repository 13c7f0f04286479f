"""Police searches on the standby (`--read-db`): the page and the API say how fresh the data is,
warn when the standby lags (its replay paused here), and the audit rows still go to the
primary (a standby takes no writes: the search would fail otherwise). The export of a search
reads the standby too."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests

from central.accounts import audit
from tests.central.central_helpers import Admin
from tests.central.police_helpers import (
    Browser,
    api_token,
    id_number,
    logged_in,
    make_user,
    stay_ids,
)
from tests.central.serverproc import CentralServer
from tests.pgpair import PgPair
from tests.sync.wire_helpers import guest

REASON = "案件 R-1"


@pytest.fixture
def reading_server(
    pg_pair: PgPair, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CentralServer]:
    log = tmp_path_factory.mktemp("read-db") / "server.log"
    args = ("--read-db", pg_pair.standby.url, "--read-db-stale-after", "1")
    with CentralServer(pg_pair.primary.url, log, extra_args=args) as server:
        yield server


def _api(server: CentralServer, token: str, number: str) -> dict:
    with requests.get(
        server.url + "/api/v1/search",
        timeout=15,
        headers={"Authorization": f"Bearer {token}"},
        params={"document": number, "reason": REASON},
    ) as reply:
        assert reply.status_code == 200, reply.text
        return reply.json()


def _exported(browser: Browser, number: str) -> str:
    reply = browser.get("/export", csrf=browser.csrf, document=number, reason=REASON, format="csv")
    assert reply.status_code == 200, reply.text
    return reply.text


def test_searches_on_the_standby_say_how_fresh_and_audit_on_the_primary(
    pg_pair: PgPair, reading_server: CentralServer
) -> None:
    with Admin(reading_server.db_url, reading_server.url) as admin:
        client, chain = admin.device()
        number = id_number()
        client.send_events([chain.check_in(guests=[guest(name="钱备库", number=number)])])
        token = api_token(admin.engine, make_user(admin.engine, "officer").username)
        browser, _user = logged_in(reading_server.url, admin.engine, "officer")
        audited = audit.count(admin.engine)

        deadline = time.monotonic() + 10
        while not (found := _api(reading_server, token, number))["stays"]:
            assert time.monotonic() < deadline, "the stay never reached the standby"
            time.sleep(0.1)
        assert found["freshness"]["source"] == "standby"
        assert found["freshness"]["streaming"] and not found["freshness"]["stale"]
        page = browser.search(document=number, reason=REASON)
        assert page.status_code == 200 and len(stay_ids(page.text)) == 1
        assert "查询使用备库（实时同步" in page.text
        assert number in _exported(browser, number)

        pg_pair.standby.query("SELECT pg_wal_replay_pause()")
        try:
            later = id_number()
            client.send_events([chain.check_in(guests=[guest(name="孙备库", number=later)])])
            time.sleep(1.5)  # the standby falls behind by more than --read-db-stale-after
            lagging = _api(reading_server, token, later)
            assert lagging["stays"] == []  # not replayed yet: the page must say so
            assert lagging["freshness"]["stale"] and lagging["freshness"]["lag_s"] >= 1
            page = browser.search(document=later, reason=REASON)
            assert page.status_code == 200 and stay_ids(page.text) == []
            assert 'class="stale"' in page.text and "最近的登记可能尚未显示" in page.text
            assert later not in _exported(browser, later)  # read on the standby, like the page
        finally:
            pg_pair.standby.query("SELECT pg_wal_replay_resume()")
        # At least four audited searches (the first may repeat) and two exports, every one on
        # the primary.
        assert audit.count(admin.engine) - audited >= 6
        assert audit.verify(admin.engine).ok
