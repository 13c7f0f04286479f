"""The PostgreSQL pair (primary + synchronous standby, tests/pgpair.py) for the HA tests: one
for the session, for tests that leave it as they found it (the failover drills rebuild the
standby they promoted, tests/ha/test_failover.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.central.serverproc import CentralServer
from tests.ha.hasite import HaSite
from tests.ha.nginxproc import NGINX
from tests.pgpair import PgPair, PgPairUnavailable

FAST = ("--db-statement-timeout", "2", "--db-connect-timeout", "2", "--db-pool-timeout", "1",
        "--db-retry-after", "3")
DB_RETRY_AFTER_S = 3  # FAST's: neither the default (2) nor load shedding's (--retry-after 5)


def start_pair() -> PgPair:
    try:
        return PgPair.start()
    except PgPairUnavailable as err:
        pytest.skip(str(err))


def require_nginx() -> None:
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (deploy/ensure-debian-packages.sh installs it)")


@pytest.fixture(scope="session")
def pg_pair() -> Iterator[PgPair]:
    with start_pair() as pair:
        yield pair


@pytest.fixture(scope="session")
def ha_site(pg_pair: PgPair) -> Iterator[HaSite]:
    """Two app servers and nginx on the session's pair, like deploy/ha/ (tmp dir of its own:
    nginx's workers must read it)."""
    require_nginx()
    base = Path(tempfile.mkdtemp(prefix="anju-ha-site-"))
    try:
        with HaSite(pg_pair.url, base) as site:
            yield site
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def trust_proxy_cert(ha_site: HaSite, monkeypatch: pytest.MonkeyPatch) -> None:
    """requests (hence the terminal's uploader) trusts the test's self-signed certificate."""
    assert ha_site.nginx is not None
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ha_site.nginx.ca))


@pytest.fixture
def fast_server(  # on the primary alone, short bounds
    pg_pair: PgPair, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CentralServer]:
    log = tmp_path_factory.mktemp("bounded") / "server.log"
    with CentralServer(pg_pair.primary.url, log, extra_args=FAST) as server:
        yield server
