"""Acknowledged means durable on two machines: with the standby synchronous
(synchronous_commit=on), a receipt is sent only once the standby has flushed the event. A
standby that does not answer (frozen) stops receipts: the upload is answered 503 and no
receipt given, though the primary has committed the event locally; once the standby is back,
the same batch resent gets its receipts (as duplicates: stored once), and the standby has it.

PostgreSQL (15) does not end a commit's wait for the synchronous standby on statement_timeout
(had it, the commit would be reported done, "committed locally"): the client's own bound on the
wait (central/db/pgbounds.py) closes the connection, so the answer is 503 and no receipt. A
duplicate's receipt waits for the standby too, because ingest's transaction always writes (the
device row), so its commit waits for a WAL position after the original event's."""

from __future__ import annotations

import time

import pytest

from central.db.engine import make_engine
from sync.errors import NotDeliveredError, RequestError
from tests.central.central_helpers import Admin
from tests.central.serverproc import CentralServer
from tests.pgpair import PgPair

REPLAY_WAIT_S = 10.0  # "on" waits for the standby's flush; its replay follows within ms


def _on_standby(pair: PgPair, event_ids: list[str]) -> int:
    engine = make_engine(pair.standby.url, pooled=False)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(
                "SELECT count(*) FROM events WHERE event_id = ANY(%(ids)s)", {"ids": event_ids}
            ).scalar_one()
    finally:
        engine.dispose()


def _wait_on_standby(pair: PgPair, event_ids: list[str]) -> int:
    deadline = time.monotonic() + REPLAY_WAIT_S
    while (found := _on_standby(pair, event_ids)) < len(event_ids):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return found


def test_the_pair_replicates_synchronously(pg_pair: PgPair) -> None:
    rows = pg_pair.primary.query(
        "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'standby1'"
    )
    assert rows == [("sync",)]
    assert pg_pair.primary.query("SHOW synchronous_commit") == [("on",)]


def test_no_receipt_while_the_standby_does_not_answer(
    pg_pair: PgPair, fast_server: CentralServer
) -> None:
    with Admin(fast_server.db_url, fast_server.url) as admin:
        client, chain = admin.device()
        first = chain.stays(2)
        assert [r.status for r in client.send_events(first).results] == ["accepted"] * 2
        assert _wait_on_standby(pg_pair, [e.event_id for e in first]) == 2

        batch = [chain.check_in(), chain.check_in()]
        ids = [e.event_id for e in batch]
        pg_pair.standby.freeze()
        try:
            with pytest.raises(RequestError) as refused:
                client.send_events(batch)
            # 503 database_unavailable: not delivered, and no receipt to hold.
            assert isinstance(refused.value, NotDeliveredError), refused.value
            assert refused.value.status == 503
        finally:
            pg_pair.standby.thaw()
        answer = client.send_events(batch)  # the terminal's retry: same events
        assert all(r.delivered and r.receipt for r in answer.results), answer
        assert _wait_on_standby(pg_pair, ids) == 2
        assert len(admin.rows("events", device_id=chain.device_id)) == 4  # stored once
