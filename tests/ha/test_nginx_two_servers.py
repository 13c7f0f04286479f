"""The sample deployment (deploy/ha/): two app servers behind nginx (TLS, the sample site) on
the PostgreSQL pair. Terminals upload, police log in, search and use the API through nginx;
every shared thing lives in the database, so the two servers act as one: a nonce used on one
is refused on the other, a login lock made on one holds on the other, concurrent audited
searches on both keep one audit chain that verifies; X-Forwarded-For is nginx's, not the
client's; /metrics is per process and not routed by nginx."""

from __future__ import annotations

import re
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select

from central.accounts import audit
from central.accounts.login_throttle import ADDRESS, key_of
from central.db.tables import login_throttle
from tests.central.central_helpers import Admin, assert_error, batch_body, fetch, signed_post
from tests.central.police_helpers import (
    Browser,
    api_token,
    id_number,
    logged_in,
    make_user,
    stay_ids,
    unique_name,
)
from tests.ha.hasite import HaSite
from tests.sync.wire_helpers import guest

pytestmark = pytest.mark.usefixtures("trust_proxy_cert")
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
REASON = "案件 HA-1"


def _answers(text: str) -> int:
    return sum(
        int(v)
        for v in re.findall(r'^anju_http_requests_total\{code="\dxx"\} (\d+)$', text, flags=re.M)
    )


def test_terminals_police_and_the_api_through_nginx(ha_site: HaSite) -> None:
    before = [_answers(fetch("GET", s.url + "/metrics").text) for s in ha_site.servers]
    with Admin(ha_site.db_url, ha_site.url) as admin:
        client, chain = admin.device()  # enrolled through nginx, over TLS
        name = unique_name("韩")
        events = [
            chain.check_in(room=str(200 + i), guests=[guest(name=f"{name}{i}", number=id_number())])
            for i in range(12)
        ]
        for start in range(0, 12, 4):
            answer = client.send_events(events[start : start + 4])
            assert {r.status for r in answer.results} == {"accepted"}
        assert len(admin.rows("events", device_id=chain.device_id)) == 12

        browser, _user = logged_in(ha_site.url, admin.engine, "officer")
        page = browser.search(name=name, reason=REASON)
        assert page.status_code == 200, page.text
        assert len(stay_ids(page.text)) == 12
        token = api_token(admin.engine, make_user(admin.engine, "officer").username)
        with requests.get(
            ha_site.url + "/api/v1/search",
            timeout=15,
            params={"name": name, "reason": REASON},
            headers={"Authorization": f"Bearer {token}"},
        ) as reply:
            assert reply.status_code == 200, reply.text
            assert len(reply.json()["stays"]) == 12

    assert fetch("GET", ha_site.url + "/healthz").json()["database"] == "primary"
    assert fetch("GET", ha_site.url + "/metrics").status_code == 404  # per process: not here
    after = [_answers(fetch("GET", s.url + "/metrics").text) for s in ha_site.servers]
    # Each process counts its own answers, and nginx gave each of them a share.
    assert all(a > b + 1 for a, b in zip(after, before, strict=True)), (before, after)


def test_a_nonce_used_on_one_server_is_refused_on_the_other(ha_site: HaSite) -> None:
    first, second = ha_site.servers
    with Admin(ha_site.db_url, first.url) as admin, requests.Session() as session:
        client, chain = admin.device()
        assert client.credentials is not None
        body = batch_body(client.credentials, [chain.check_in()])
        nonce = secrets.token_hex(16)
        accepted = signed_post(
            session, first.url, client.credentials, "/api/v1/events", body, nonce=nonce
        )
        assert accepted.status_code == 200, accepted.text
        replayed = signed_post(
            session, second.url, client.credentials, "/api/v1/events", body, nonce=nonce
        )
        assert_error(replayed, 401, "replayed_nonce")


def _login(base: str, username: str, password: str, source: str | None = None) -> int:
    browser = Browser(base)
    token = _CSRF.search(browser.get("/login").text)
    assert token
    headers = {"X-Forwarded-For": source} if source else {}
    return browser.request(
        "POST",
        "/login",
        headers=headers,
        data={"csrf": token.group(1), "username": username, "password": password},
    ).status_code


def test_a_login_lock_made_on_one_server_holds_on_the_other(ha_site: HaSite) -> None:
    first, second = ha_site.servers
    source = f"198.51.{secrets.randbelow(256)}.{secrets.randbelow(255) + 1}"
    with Admin(ha_site.db_url, first.url) as admin:
        user = make_user(admin.engine, "officer")
    # Direct to the servers (as a second proxy would be): its X-Forwarded-For is trusted there.
    assert [_login(first.url, user.username, "wrong", source) for _ in range(5)][-1] == 429
    assert _login(second.url, user.username, user.password, source) == 429


def test_x_forwarded_for_is_nginx_s_not_the_client_s(ha_site: HaSite) -> None:
    spoofed = f"203.0.113.{secrets.randbelow(255) + 1}"
    assert _login(ha_site.url, f"nobody-{secrets.token_hex(4)}", "wrong", spoofed) == 401
    with Admin(ha_site.db_url, ha_site.url) as admin, admin.engine.connect() as conn:
        keys = set(
            conn.execute(
                select(login_throttle.c.key_sha256).where(login_throttle.c.kind == ADDRESS)
            ).scalars()
        )
    assert key_of(ADDRESS, "127.0.0.1") in keys  # nginx replaced the header with the peer
    assert key_of(ADDRESS, spoofed) not in keys


def test_concurrent_audited_searches_on_both_servers_keep_one_chain(ha_site: HaSite) -> None:
    with Admin(ha_site.db_url, ha_site.url) as admin:
        user = make_user(admin.engine, "officer")
        bearer = {"Authorization": f"Bearer {api_token(admin.engine, user.username)}"}
        rows_before = audit.count(admin.engine)
        bases = [s.url for s in ha_site.servers] + [ha_site.url]

        def search(i: int) -> int:
            with requests.get(
                bases[i % 3] + "/api/v1/search",
                headers=bearer,
                timeout=30,
                params={"document": id_number(), "reason": f"{REASON}-{i}"},
            ) as r:
                return r.status_code

        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(search, range(60)))
        assert statuses == [200] * 60
        report = audit.verify(admin.engine)
        assert report.ok, report
        assert audit.count(admin.engine) - rows_before >= 60
