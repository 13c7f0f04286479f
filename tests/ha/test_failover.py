"""The failover drill (docs/operations.md), twice: the primary killed (SIGKILL: its sockets
close) and the primary hung (SIGSTOP of all its processes: its sockets stay open, nothing
answers). Three terminals upload continuously through nginx to two app servers configured
with both database hosts (libpq multi-host, target_session_attrs=read-write); the primary is
lost mid-ingest; the standby is promoted with deploy/ha/promote-standby.sh; the app servers
reconnect by themselves and the terminals' retries go through. Afterwards, on the new primary:
every event a terminal holds a receipt for, nothing twice, no chain fault, the audit chain
intact. Prints the seconds from promotion until every terminal was acknowledged again.

Marked `ha` (part of `make test`, alone: `make test-ha`). The drills run on the session's site
(tests/ha/conftest.py) and leave it as they found it: after each, the lost node is rebuilt as
the new primary's synchronous standby (docs/operations.md, "Rebuild a standby"), so the second
drill fails over back, through app servers that have been through one failover already.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import pytest

from tests.central.central_helpers import Admin, fetch
from tests.ha.drill import RESUME_LIMIT_S, run_drill
from tests.ha.hasite import HaSite
from tests.pgpair import PgPair


@pytest.fixture
def rebuilt_after(pg_pair: PgPair) -> Iterator[PgPair]:
    """The session's pair; after the drill, a synchronous pair again (the roles swapped)."""
    yield pg_pair
    if pg_pair.standby_promoted():
        pg_pair.rebuild_standby()


@pytest.mark.ha
@pytest.mark.timeout(300)
# Hung first, on the pair as built: its frozen primary is the first host of the servers' URL,
# so every new connection waits out the connect timeout on it (killed: refused at once).
@pytest.mark.parametrize("loss", ["hung", "killed"])
@pytest.mark.usefixtures("trust_proxy_cert")
def test_failover_drill(
    loss: str, rebuilt_after: PgPair, ha_site: HaSite, capsys: pytest.CaptureFixture[str]
) -> None:
    cuts_before = [_cuts(fetch("GET", s.url + "/metrics").text) for s in ha_site.servers]
    with Admin(ha_site.db_url, ha_site.url) as admin:
        result = run_drill(rebuilt_after, admin, loss)
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
    # Each server's /metrics names the promoted node as its database host (its watchdog
    # reached it); after a hang, each watchdog had found it and cut (the connections to the
    # frozen node it still found: a checkout ping may have closed them first).
    promoted = f'anju_db_host_info{{host="127.0.0.1",port="{rebuilt_after.standby.port}"}} 1'
    for server, before in zip(ha_site.servers, cuts_before, strict=True):
        text = _metrics_once(server.url, lambda t, b=before: promoted in t and (
            loss != "hung" or _cuts(t) > b))
        assert promoted in text, text
        if loss == "hung":
            assert _cuts(text) > before, text


def _cuts(metrics: str) -> int:
    found = re.search(r"^anju_db_watchdog_cuts_total (\d+)$", metrics, flags=re.M)
    assert found is not None, metrics
    return int(found.group(1))


def _metrics_once(url: str, done: Callable[[str], bool], limit_s: float = 10) -> str:
    """The server's /metrics, polled until `done` (a watchdog reconnects within a second)."""
    deadline = time.monotonic() + limit_s
    while True:
        text = fetch("GET", url + "/metrics").text
        if done(text) or time.monotonic() > deadline:
            return text
        time.sleep(0.2)
