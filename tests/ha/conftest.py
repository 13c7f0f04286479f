"""The PostgreSQL pair (primary + synchronous standby, tests/pgpair.py) for the HA tests: one
for the session, for tests that leave it as they found it; the failover drills build their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.pgpair import PgPair, PgPairUnavailable


def start_pair() -> PgPair:
    try:
        return PgPair.start()
    except PgPairUnavailable as err:
        pytest.skip(str(err))


@pytest.fixture(scope="session")
def pg_pair() -> Iterator[PgPair]:
    with start_pair() as pair:
        yield pair
