"""The failover drill's moving parts: terminals uploading continuously (signed batches through
nginx, each batch resent as it is until the server gives its receipts, as the uploader does),
and what is checked on the new primary afterwards. Used by tests/ha/test_failover.py and
bench/bench_failover.py."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import requests
from sqlalchemy import Engine, func, select

from central.accounts import audit
from central.db.engine import make_engine
from central.db.tables import chain_faults, events
from sync.client import SyncClient
from sync.errors import SyncError
from sync.protocol import BatchAnswer, WireEvent
from sync.retry import RetryBudgetExhausted, RetryPolicy, StopRequested
from tests.central.central_helpers import Admin
from tests.central.police_helpers import api_token, make_user
from tests.pgpair import PgPair, promote
from tests.sync.wire_helpers import EventChain, guest

BATCH = 5
RETRY_PAUSE_S = 0.2


@dataclass
class Uploader:
    """One terminal: its chain, the receipts it holds, and when each answer came. It resends a
    failed batch after RETRY_PAUSE_S (the server's own recovery, measured alone), or, given
    `policy`, through the terminal's retry layer (sync/retry.py: backoff with full jitter, each
    503's Retry-After a floor), as a real terminal would."""

    client: SyncClient
    chain: EventChain
    policy: RetryPolicy | None = None
    receipts: dict[str, str] = field(default_factory=dict)
    delivered_at: list[float] = field(default_factory=list)
    failures: int = 0

    def _send(self, events: list[WireEvent], stop: threading.Event) -> BatchAnswer:
        if self.policy is None:
            return self.client.send_events(events)

        def failed(_error: SyncError) -> None:
            self.failures += 1

        return self.policy.call(lambda: self.client.send_events(events), sleep=stop.wait,
                                on_error=failed)

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
                answer = self._send(pending, stop)
            except StopRequested:
                return  # stopped while waiting to retry (the drill is over)
            except RetryBudgetExhausted:
                continue  # the policy's budget for "maybe delivered": send it again
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


RESUME_LIMIT_S = 40.0  # the drill gives up waiting for ingest to resume after this
TERMINALS = 3
# Batches each terminal has acknowledged before the loss (ingest running everywhere), and again
# after it resumed (running steadily, not one lucky batch): counted, not slept for.
WARM_BATCHES = 3
STEADY_BATCHES = 3


@dataclass
class DrillResult:
    promotion_s: float  # the promote script, start to end
    resumed_after_promotion_s: float | None  # until every terminal was acknowledged again
    without_ingest_s: float | None  # from the loss of the primary to the same moment
    events: int
    failed_attempts: int
    findings: Findings
    all_acknowledged: bool  # every event sent was at last acknowledged
    audit_ok: bool
    searches: tuple[int, int]  # an audited API search's status before and after


def _search(site_url: str, token: str, reason: str) -> int:
    with requests.get(
        site_url + "/api/v1/search",
        timeout=30,
        headers={"Authorization": f"Bearer {token}"},
        params={"name": "演练", "reason": reason},
    ) as reply:
        return reply.status_code


def _batches_since(uploaders: list[Uploader], moment: float) -> int:
    """The fewest batches any uploader had acknowledged after `moment`."""
    return min(sum(1 for t in u.delivered_at if t > moment) for u in uploaders)


def _wait_for(done: Callable[[], bool], limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not done():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def run_drill(pair: PgPair, admin: Admin, loss: str, terminals: int = TERMINALS,
              policy: RetryPolicy | None = None) -> DrillResult:
    """Terminals upload through `admin.url` (nginx); once each has 3 batches acknowledged, the
    primary is lost ("killed" or "hung"); promote-standby.sh 1 s later; ingest watched until it
    resumes, then until each terminal has 3 more batches acknowledged. The promoted node is
    `pair.standby` still; the lost one is killed (fenced for good)."""
    token = api_token(admin.engine, make_user(admin.engine, "officer").username)
    before = _search(admin.url, token, "演练 前")
    uploaders = [Uploader(*admin.device(), policy=policy) for _ in range(terminals)]
    stop = threading.Event()
    threads = [
        threading.Thread(target=u.run, args=(stop, time.monotonic() + 180), name=f"terminal-{i}")
        for i, u in enumerate(uploaders)
    ]
    for thread in threads:
        thread.start()
    resumed = None
    started = time.monotonic()
    try:
        _wait_for(lambda: _batches_since(uploaders, started) >= WARM_BATCHES, RESUME_LIMIT_S,
                  "no ingest before the loss")
        lost_at = time.monotonic()
        if loss == "killed":
            pair.primary.kill()
        else:
            pair.primary.freeze()
        time.sleep(1)  # the operator's (or a monitor's) time to notice, at its shortest
        promote_started = time.monotonic()
        promote(pair.standby)
        promoted = time.monotonic()
        while resumed is None and time.monotonic() < promoted + RESUME_LIMIT_S:
            time.sleep(0.1)
            resumed = first_delivery_after(uploaders, promoted)
        if resumed is not None:  # ingest running again, steadily
            _wait_for(lambda: _batches_since(uploaders, promoted + resumed) >= STEADY_BATCHES,
                      RESUME_LIMIT_S, "ingest resumed, then stopped again")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    after = _search(admin.url, token, "演练 后")
    engine = make_engine(pair.standby.url, pooled=False)
    try:
        findings = check(engine, uploaders)
        audit_ok = audit.verify(engine).ok
    finally:
        engine.dispose()
        pair.primary.kill()  # fenced for good (a hung one included)
    return DrillResult(
        round(promoted - promote_started, 2),
        None if resumed is None else round(resumed, 2),
        None if resumed is None else round(promoted + resumed - lost_at, 2),
        sum(len(u.receipts) for u in uploaders),
        sum(u.failures for u in uploaders),
        findings,
        all(len(u.receipts) == len(u.chain.events) for u in uploaders),
        audit_ok,
        (before, after),
    )
