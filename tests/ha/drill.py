"""The failover drill's moving parts: terminals uploading continuously (signed batches through
nginx, each batch resent as it is until the server gives its receipts, as the uploader does),
and what is checked on the new primary afterwards. Used by tests/ha/test_failover.py and
bench/bench_failover.py."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from central.db.tables import chain_faults, events
from sync.client import SyncClient
from sync.errors import SyncError
from tests.sync.wire_helpers import EventChain, guest

BATCH = 5
RETRY_PAUSE_S = 0.2


@dataclass
class Uploader:
    """One terminal: its chain, the receipts it holds, and when each answer came."""

    client: SyncClient
    chain: EventChain
    receipts: dict[str, str] = field(default_factory=dict)
    delivered_at: list[float] = field(default_factory=list)
    failures: int = 0

    def run(self, stop: threading.Event, deadline: float) -> None:
        pending: list = []
        while time.monotonic() < deadline:
            if not pending:
                if stop.is_set():
                    return
                pending = [
                    self.chain.check_in(
                        room=str(100 + self.chain.sequence % 50),
                        guests=[guest(name=f"演练{self.chain.sequence}")],
                    )
                    for _ in range(BATCH)
                ]
            try:
                answer = self.client.send_events(pending)
            except SyncError:
                self.failures += 1
                time.sleep(RETRY_PAUSE_S)
                continue
            for result in answer.results:
                assert result.delivered, result
                self.receipts[result.event_id] = result.receipt or ""
            self.delivered_at.append(time.monotonic())
            pending = []


def first_delivery_after(uploaders: list[Uploader], moment: float) -> float | None:
    """Seconds from `moment` until every uploader had a batch acknowledged again."""
    firsts = []
    for up in uploaders:
        after = [t for t in up.delivered_at if t > moment]
        if not after:
            return None
        firsts.append(after[0])
    return max(firsts) - moment


@dataclass
class Findings:
    missing: int  # receipted events not on the new primary
    duplicates: int  # events stored more than once (by device and sequence)
    unsent_stored: int  # stored events no uploader sent (impossible; counted anyway)
    faults: int  # gaps and chain breaks recorded for the drill's devices


def check(engine: Engine, uploaders: list[Uploader]) -> Findings:
    missing = duplicates = unsent = faults = 0
    with engine.connect() as conn:
        for up in uploaders:
            device = up.chain.device_id
            stored = conn.execute(
                select(events.c.event_id, events.c.sequence).where(events.c.device_id == device)
            ).all()
            ids = {r.event_id for r in stored}
            missing += len(set(up.receipts) - ids)
            duplicates += len(stored) - len({r.sequence for r in stored})
            unsent += len(ids - {e.event_id for e in up.chain.events})
            faults += (
                conn.execute(
                    select(func.count())
                    .select_from(chain_faults)
                    .where(chain_faults.c.device_id == device)
                ).scalar()
                or 0
            )
    return Findings(missing, duplicates, unsent, faults)
