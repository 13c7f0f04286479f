"""Issue 18: a reader never passes a position that a transaction still open could fill.

On PostgreSQL an ingest transaction is held open at its very end (after its feed record was
written, before COMMIT) while another device uploads and a consumer reads: the other upload
waits for the feed's lock, the consumer sees neither, and once the first commits both arrive in
commit order after the cursor the consumer kept. Were positions handed out without that lock,
the second upload would commit first with the higher position, the consumer's cursor would pass
the first one's, and its record would be skipped for good: this test would see that.
(SQLite holds one writer at a time from BEGIN IMMEDIATE, so nothing commits out of order.)
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import event

from central.clock import utc_now
from central.db.engine import make_engine
from central.devices import ingest
from central.devices.authentication import Device
from sync.protocol import Batch, BatchEnvelope, SenderClock
from tests.central.central_helpers import Admin
from tests.central.feed_helpers import feed_token, pull_all


def test_a_late_commit_is_never_skipped(central: Admin) -> None:
    if not central.db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers: ids are commit-ordered")
    token = feed_token(central, "并发测试")
    _, cursor = pull_all(central, token)
    held_client, held_chain = central.device()
    other_client, other_chain = central.device()
    assert held_client.credentials is not None
    held_event, other_event = held_chain.check_in(), other_chain.check_in()

    engine = make_engine(central.db_url, pooled=False)
    reached, release = threading.Event(), threading.Event()

    def hold(_conn: Any) -> None:  # before COMMIT is sent: everything else is done
        reached.set()
        assert release.wait(30)

    event.listen(engine, "commit", hold)
    creds = held_client.credentials
    batch = Batch(creds.device_id, creds.site_code, SenderClock.system(), (held_event,))
    held = threading.Thread(
        target=ingest.ingest,
        args=(
            engine,
            Device(creds.device_id, creds.site_code, False),
            BatchEnvelope.from_json(batch.to_json()),
            utc_now(),
        ),
    )
    held.start()
    other: threading.Thread | None = None
    try:
        assert reached.wait(30)
        other = threading.Thread(target=other_client.send_events, args=([other_event],))
        other.start()
        time.sleep(1.0)  # time for the other upload to commit, if anything let it
        seen, cursor_during = pull_all(central, token, cursor)
    finally:
        release.set()
        held.join(30)
        if other is not None:
            other.join(30)
        engine.dispose()
    taken, _ = pull_all(central, token, cursor_during)
    # The consumer resumed at the cursor it kept while the first was open: both, in order.
    assert [r["event"]["event_id"] for r in seen + taken] == [
        held_event.event_id,
        other_event.event_id,
    ]
    assert seen == []  # the other upload waited for the feed's lock
