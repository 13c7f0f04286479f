"""The failover drill (docs/operations.md), twice: the primary killed (SIGKILL: its sockets
close) and the primary hung (SIGSTOP of all its processes: its sockets stay open, nothing
answers). Three terminals upload continuously through nginx to two app servers configured
with both database hosts (libpq multi-host, target_session_attrs=read-write); the primary is
lost mid-ingest; the standby is promoted with deploy/ha/promote-standby.sh; the app servers
reconnect by themselves and the terminals' retries go through. Afterwards, on the new primary:
every event a terminal holds a receipt for, nothing twice, no chain fault, the audit chain
intact. Prints the seconds from promotion until every terminal was acknowledged again.

Marked `ha` (20-40 s each on a 2-core machine; part of `make test`, alone: `make test-ha`).
Each drill builds a pair of its own: it destroys its primary."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

from central.db.engine import make_engine
from central.police import audit
from tests.central.central_helpers import Admin
from tests.central.police_helpers import api_token, make_user
from tests.ha.conftest import start_pair
from tests.ha.drill import Uploader, check, first_delivery_after
from tests.ha.hasite import HaSite
from tests.pgpair import PgPair, promote

TERMINALS = 3
RESUME_LIMIT_S = 40.0  # a resumption at all; the figure itself is printed and benched


def _search(site: HaSite, token: str, reason: str) -> int:
    with requests.get(
        site.url + "/api/v1/search",
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
        params={"name": "演练", "reason": reason},
    ) as reply:
        return reply.status_code


@pytest.mark.ha
@pytest.mark.timeout(300)
@pytest.mark.parametrize("loss", ["killed", "hung"])
def test_failover_drill(
    loss: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    base = Path(tempfile.mkdtemp(prefix="anju-drill-"))
    pair = start_pair()
    try:
        with HaSite(pair.url, base) as site, Admin(site.db_url, site.url) as admin:
            assert site.nginx is not None
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(site.nginx.ca))
            figures = _drill(pair, site, admin, loss)
        with capsys.disabled():
            print(f"\nfailover ({loss}): {figures}")
    finally:
        pair.stop()
        shutil.rmtree(base, ignore_errors=True)


def _drill(pair: PgPair, site: HaSite, admin: Admin, loss: str) -> dict[str, float]:
    token = api_token(admin.engine, make_user(admin.engine, "officer").username)
    assert _search(site, token, "演练 前") == 200
    uploaders = [Uploader(*admin.device()) for _ in range(TERMINALS)]
    stop = threading.Event()
    deadline = time.monotonic() + 180
    threads = [
        threading.Thread(target=u.run, args=(stop, deadline), name=f"terminal-{i}")
        for i, u in enumerate(uploaders)
    ]
    for thread in threads:
        thread.start()
    try:
        time.sleep(3)
        assert all(u.receipts for u in uploaders), "no ingest before the loss"
        lost_at = time.monotonic()
        if loss == "killed":
            pair.primary.kill()
        else:
            pair.primary.freeze()
        time.sleep(1)  # the operator's (or a monitor's) time to notice, at its shortest
        promote_started = time.monotonic()
        promote(pair.standby)
        promoted = time.monotonic()
        while time.monotonic() < promoted + RESUME_LIMIT_S:
            resumed = first_delivery_after(uploaders, promoted)
            if resumed is not None:
                break
            time.sleep(0.1)
        time.sleep(2)  # ingest running again, steadily
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert resumed is not None, f"ingest did not resume within {RESUME_LIMIT_S} s"
    assert _search(site, token, "演练 后") == 200

    engine = make_engine(pair.standby.url, pooled=False)
    try:
        findings = check(engine, uploaders)
        assert findings.missing == 0, findings  # every receipt's event is on the new primary
        assert findings.duplicates == 0 and findings.unsent_stored == 0, findings
        assert findings.faults == 0, findings
        for up in uploaders:  # every event sent was at last acknowledged
            assert len(up.receipts) == len(up.chain.events)
        report = audit.verify(engine)
        assert report.ok, report
    finally:
        engine.dispose()
        pair.primary.kill()  # fenced for good (a hung one included)
    return {
        "promotion_s": round(promoted - promote_started, 2),
        "resumed_after_promotion_s": round(resumed, 2),
        "without_ingest_s": round(promoted + resumed - lost_at, 2),
        "events": sum(len(u.receipts) for u in uploaders),
        "failed_attempts": sum(u.failures for u in uploaders),
    }
