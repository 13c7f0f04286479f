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
from pathlib import Path

import pytest

from tests.central.central_helpers import Admin
from tests.ha.conftest import require_nginx, start_pair
from tests.ha.drill import RESUME_LIMIT_S, run_drill
from tests.ha.hasite import HaSite


@pytest.mark.ha
@pytest.mark.timeout(300)
@pytest.mark.parametrize("loss", ["killed", "hung"])
def test_failover_drill(
    loss: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    require_nginx()
    base = Path(tempfile.mkdtemp(prefix="anju-drill-"))
    pair = start_pair()
    try:
        with HaSite(pair.url, base) as site, Admin(site.db_url, site.url) as admin:
            assert site.nginx is not None
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(site.nginx.ca))
            result = run_drill(pair, admin, loss)
        with capsys.disabled():
            print(f"\nfailover ({loss}): {result}")
        assert result.resumed_after_promotion_s is not None, (
            f"ingest did not resume within {RESUME_LIMIT_S} s after the promotion"
        )
        findings = result.findings
        assert findings.missing == 0, findings  # every receipt's event is on the new primary
        assert findings.duplicates == 0 and findings.unsent_stored == 0, findings
        assert findings.faults == 0, findings  # no gap, no chain break
        assert result.all_acknowledged  # every event sent was at last acknowledged
        assert result.audit_ok
        assert result.searches == (200, 200)
    finally:
        pair.stop()
        shutil.rmtree(base, ignore_errors=True)
