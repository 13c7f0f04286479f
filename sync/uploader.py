"""The uploader: drains the terminal's outbox to the central server, batch by batch.

sync must not import terminal (the arrow is terminal -> sync), so the store is reached through
the small `Outbox` protocol below; terminal/store/outbox.py implements it over the SQLite store.

One batch:
  1. `pending` returns queued AND sent events in sequence order: an event left 'sent' by a
     crash or a failed request is simply sent again (ingest is idempotent by event id);
  2. `mark_sent` records the attempt before the request leaves (at-least-once);
  3. one signed request through the retry policy (the only retry layer);
  4. `record` stores every per-event answer in one transaction with its state change:
     accepted/duplicate -> acknowledged with the receipt; rejected -> rejected with code, field
     and message, set aside, so it never blocks the events behind it.

A request that fails "maybe delivered" past its budget halves the batch for a while (a poison
batch is narrowed down to one event); a 413 lowers the batch size for good. An event that
exhausts the budget alone `hold_after` times is suspected: the event behind it is sent alone
(the probe). If the server answers the probe, it works and only the suspect fails, so the
suspect is held back: `rejected` locally with code `held_back` and the server's last error (never
delivered, never dropped: an alarm in `anju sync status`, re-queued by a technician), and the
queue goes on. If the probe fails too, the server itself is failing: nothing is held back and
the uploader waits as for any outage.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sync.body import split_batches
from sync.client import SyncClient
from sync.diagnosis import CONNECTION, STUCK_AFTER_S, Cause, classify, delivery_state
from sync.errors import RequestError, SlowUploadError, TooLargeError
from sync.messages import DayReport, HeartbeatAnswer, ReaderReport
from sync.protocol import DEFAULT_LIMITS, REJECTED, EventResult, Limits, WireEvent
from sync.retry import AttemptHistory, RetryBudgetExhausted, RetryPolicy
from sync.update_messages import UpdateReport

log = logging.getLogger(__name__)
HELD_BACK = "held_back"  # a local verdict: the server kept failing on this event alone


@dataclass(frozen=True, slots=True)
class Health:
    """What the heartbeat reports about the terminal (read from the store and the machine)."""

    backlog: int  # queued or sent, not yet acknowledged
    oldest_queued_age_s: float | None
    rejected: int
    disk_free_bytes: int
    clock_synchronised: bool
    day_reports: tuple[DayReport, ...] = ()  # check-ins per recent day; 0 is the nil report
    reader: ReaderReport | None = None  # None: the outbox cannot tell (Uploader.reader_status)
    disk_min_free_bytes: int | None = None  # store.min_free_bytes: below it check-ins stop
    doctor: tuple[str, float] | None = None  # `anju doctor`'s last full run: (class, age s)


class Outbox(Protocol):
    """The terminal store as the uploader needs it; every method is one transaction."""

    def pending(self, limit: int, max_bytes: int) -> list[WireEvent]:
        """Queued and sent events in sequence order, at most `limit` / about `max_bytes`."""
        ...

    def mark_sent(self, event_ids: Sequence[str]) -> None: ...

    def record(self, results: Sequence[EventResult]) -> None:
        """Acknowledge delivered results with their receipts and reject the rejected ones."""
        ...

    def backlog(self) -> int:
        """Events queued or sent (cheap: an index count, called after every drain)."""
        ...

    def health(self) -> Health: ...


@dataclass(slots=True)
class DrainReport:
    acknowledged: int = 0
    duplicates: int = 0
    rejected: int = 0
    requests: int = 0
    remaining: int = 0
    held_back: int = 0  # of `rejected`: set aside here after the server failed on them alone
    rejections: list[tuple[str, str, str | None]] = field(default_factory=list)  # id, code, field
    history: AttemptHistory = field(default_factory=AttemptHistory)


class Uploader:
    """Drives one outbox with one client; not thread-safe (one uploader per terminal)."""

    def __init__(
        self, outbox: Outbox, client: SyncClient, *, policy: RetryPolicy | None = None,
        limits: Limits = DEFAULT_LIMITS, max_batch_events: int = 200,
        max_batch_bytes: int = 1024 * 1024, sleep: Callable[[float], object] = time.sleep,
        software_version: str = "anju-terminal", reader_status: str = "unknown",
        hold_after: int = 3, stuck_after_s: float = STUCK_AFTER_S,
    ) -> None:
        self.outbox = outbox
        self.client = client
        self.policy = policy or RetryPolicy()
        self.limits = limits
        self.max_batch_events = min(max_batch_events, limits.max_events)
        self.max_batch_bytes = max_batch_bytes
        self.sleep = sleep
        self.software_version = software_version
        self.reader_status = reader_status
        self.last_error: str | None = None
        self.last_success: float | None = None  # Unix time of the last answered request
        self._narrow: int | None = None  # batch size while isolating a poison batch
        self.hold_after = hold_after  # budgets one event may exhaust alone before it is suspected
        self._strikes: dict[str, int] = {}  # event id -> budgets it exhausted alone
        self._suspect: tuple[str, RetryBudgetExhausted] | None = None  # to probe past
        self._offline_since: float | None = None  # monotonic time of the first failure
        self.offline_since: float | None = None  # Unix time of the first failure (shown)
        self.cause: Cause | None = None  # why the last request failed (None: it was answered)
        # Called when last_error, its cause or the online state changes (the service persists
        # them at once: a call retrying for ever never returns to say so).
        self.on_change: Callable[[], None] | None = None
        # The updater's last outcome, sent in each heartbeat (terminal/update/)
        self.update_report: Callable[[], UpdateReport | None] | None = None
        # Delivery (events, not heartbeats): why the last batch failed, since when, and when
        # events last moved; the heartbeat's sync_state is made of them (`delivery`).
        self.delivery_cause: Cause | None = None
        self._delivery_failed_at: float | None = None  # monotonic: first failed batch
        self._progress_at = time.monotonic()  # a batch answered, or nothing pending
        self.stuck_after_s = stuck_after_s
        self._state: tuple[str, float] | None = None  # (code, monotonic since)
        self.reported: tuple[str, float] = ("ok", 0.0)  # the last heartbeat's (state, age s)
        # Another process's delivery state to report instead of this one's (`anju doctor`
        # sends a heartbeat for the sync service, which knows why events are not delivered).
        # (None, None): not known, sent as absent.
        self.delivery_override: tuple[str | None, float | None] | None = None

    # -- draining ----------------------------------------------------------------------------

    def drain(self, *, max_requests: int | None = None,
              progress: Callable[[DrainReport], None] | None = None) -> DrainReport:
        """Send until nothing is pending (or `max_requests`); raises the error that stopped it
        (RequestError, RetryBudgetExhausted for "not delivered", StopRequested)."""
        report = DrainReport()
        while max_requests is None or report.requests < max_requests:
            if self._suspect is not None:
                self._probe(report)
                continue
            limit = self._narrow or self.max_batch_events
            events = self.outbox.pending(limit, self.max_batch_bytes)
            if not events:
                self._progress_at = time.monotonic()  # nothing waits: nothing is stuck
                break
            # Usually one batch; more when withheld headers pushed it past the server's limit.
            for batch in split_batches(events, self.limits):
                sent = self._send(batch, report)
                if progress is not None:
                    progress(report)
                if not sent:
                    break  # the batch size changed: read the outbox afresh
        report.remaining = self.outbox.backlog()
        return report

    def _send(self, batch: list[WireEvent], report: DrainReport) -> bool:
        """One batch; False when it was not answered and will be re-read smaller."""
        self.outbox.mark_sent([e.event_id for e in batch if e.withheld is None])
        report.requests += 1
        try:
            answer = self.policy.call(lambda: self.client.send_events(batch),
                                      history=report.history, sleep=self.sleep,
                                      on_error=self._delivery_failed)
        except TooLargeError as err:
            if len(batch) == 1:  # cannot be split further: a technician must look at it
                self._delivery_failed(err)
                raise
            # The server's limit is lower than ours: lower ours for good (no widening back
            # into the same 413), to what it says or else by half.
            self.max_batch_events = max(1, min(err.max_events or len(batch) // 2,
                                               len(batch) // 2))
            self._narrow = None
            log.warning("batch of %d answered 413: at most %d per request from now on",
                        len(batch), self.max_batch_events)
            return False
        except SlowUploadError as err:
            if len(batch) == 1:
                self._delivery_failed(err)
                raise
            self._halve(len(batch), err)  # the link is too slow for the server's deadline
            return False
        except RetryBudgetExhausted as err:
            alone = [e.event_id for e in batch if e.withheld is None]
            if err.kind == "maybe_delivered" and len(alone) > 1:
                self._halve(len(batch), err.last)
                return False
            if err.kind == "maybe_delivered" and len(alone) == 1:
                strikes = self._strikes[alone[0]] = self._strikes.get(alone[0], 0) + 1
                if strikes >= self.hold_after:
                    self._suspect = (alone[0], err)  # the next round probes past it
                    return False
            self._delivery_failed(err.last)
            raise
        except RequestError as err:
            self._delivery_failed(err)
            raise
        self.outbox.record(answer.results)
        self._succeeded()
        self.delivery_cause = None
        self._delivery_failed_at = None
        self._progress_at = time.monotonic()
        if self._narrow is not None:
            self._narrow = min(self._narrow * 2, self.max_batch_events)  # widen again
            if self._narrow >= self.max_batch_events:
                self._narrow = None
        for event, result in zip(batch, answer.results, strict=True):
            if event.withheld is not None:
                continue  # a superseded event's header, sent for the chain: not the backlog's
            if result.status == "duplicate":
                report.duplicates += 1
            if result.delivered:
                report.acknowledged += 1
            else:
                report.rejected += 1
                report.rejections.append((result.event_id or "?", result.code or "?",
                                          result.field))
        return True

    def _probe(self, report: DrainReport) -> None:
        """Send the event behind the suspect alone: answered, the suspect is held back; failed,
        the server is failing for everyone and the suspect is cleared (the error is raised)."""
        assert self._suspect is not None
        suspect, exhausted = self._suspect
        events = self.outbox.pending(self.max_batch_events, self.max_batch_bytes)
        index = next((i for i, e in enumerate(events) if e.event_id == suspect), None)
        behind: list[WireEvent] = []
        for event in events[index + 1:] if index is not None else []:
            behind.append(event)  # withheld headers travel with the event after them
            if event.withheld is None:
                break
        if index is None or not behind or behind[-1].withheld is not None:
            # Settled meanwhile, or nothing behind it to block: keep waiting as for an outage.
            self._suspect = None
            if index is None:
                return
            self._strikes.pop(suspect, None)
            self._delivery_failed(exhausted.last)
            raise exhausted
        self._suspect = None
        try:
            answered = self._send(behind, report)
        except (RequestError, RetryBudgetExhausted):
            self._strikes.clear()  # not this event's fault: the server fails for everyone
            raise
        if not answered:
            return
        self._strikes.pop(suspect, None)
        last = exhausted.last
        message = (f"held back after {self.hold_after} failed rounds of {exhausted.attempts} "
                   f"attempts each, alone, while the event behind it was answered; last error "
                   f"{type(last).__name__} {last.status or ''} {last.code or ''}; not "
                   "delivered: re-queue it once the server is fixed").replace("  ", " ")
        self.outbox.record([EventResult(suspect, REJECTED, code=HELD_BACK, field=None,
                                        message=message)])
        report.rejected += 1
        report.held_back += 1
        report.rejections.append((suspect, HELD_BACK, None))
        log.warning("event %s held back: the server failed on it alone %d times (%s)",
                    suspect, self.hold_after, type(last).__name__)

    def _halve(self, size: int, err: RequestError) -> None:
        self._narrow = max(1, size // 2)
        log.warning("batch of %d failed (%s): retrying in batches of %d", size,
                    type(err).__name__, self._narrow)

    def _failed(self, err: RequestError) -> None:
        """Called for every failed attempt, the first included: record, log transitions once."""
        cause = classify(err)
        error = f"{type(err).__name__}: {err.code or err.status or ''}".rstrip(": ")
        changed = error != self.last_error or cause != self.cause
        if self._offline_since is None:  # a transition, logged once, not every retry
            self._offline_since = time.monotonic()
            self.offline_since = time.time()
            changed = True
            since = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(self.offline_since))
            log.warning("offline since %s: %s (%s); %s", since, cause.text, error, cause.advice)
        elif cause.code != (self.cause.code if self.cause else None):
            log.warning("still offline, now: %s (%s); %s", cause.text, error, cause.advice)
        self.last_error = error
        self.cause = cause
        if changed and self.on_change is not None:
            self.on_change()

    def _delivery_failed(self, err: RequestError) -> None:
        """A batch failed: the connection's state, and the delivery's cause for the heartbeat."""
        self._failed(err)
        self.delivery_cause = self.cause
        if self._delivery_failed_at is None:
            self._delivery_failed_at = time.monotonic()

    def delivery(self, backlog: int, rejected: int) -> tuple[str, float]:
        """The delivery state the heartbeat carries (sync/diagnosis.py) and its age in
        seconds: since the first failed batch, since events last moved (backlog_stuck), or
        since this process first saw the state."""
        now = time.monotonic()
        stalled = now - self._progress_at if backlog else None
        code = delivery_state(self.delivery_cause, backlog=backlog, rejected=rejected,
                              stalled_s=stalled, stuck_after_s=self.stuck_after_s)
        if self._state is None or self._state[0] != code:
            since = now
            if self.delivery_cause is not None and self._delivery_failed_at is not None:
                since = self._delivery_failed_at
            elif stalled is not None and code != "ok":
                since = self._progress_at
            self._state = (code, since)
        return code, max(0.0, now - self._state[1])

    def _succeeded(self) -> None:
        if self._offline_since is not None:
            minutes = (time.monotonic() - self._offline_since) / 60
            log.warning("back online after %.1f minutes (last error %s)", minutes,
                        self.last_error)
            self._offline_since = None
        self.offline_since = None
        self.last_error = None
        self.cause = None
        self.last_success = time.time()

    # -- heartbeat ---------------------------------------------------------------------------

    def heartbeat(self) -> HeartbeatAnswer:
        """One signed heartbeat (retried like a batch; a heartbeat is idempotent too)."""
        health = self.outbox.health()
        if self.delivery_override is not None:
            sync_state, sync_age = self.delivery_override
        else:
            sync_state, sync_age = self.delivery(health.backlog, health.rejected)
            self.reported = (sync_state, sync_age)
        try:
            answer = self.policy.call(lambda: self.client.heartbeat(
                software_version=self.software_version, backlog=health.backlog,
                oldest_queued_age_s=health.oldest_queued_age_s,
                reader_status=self.reader_status, disk_free_bytes=health.disk_free_bytes,
                last_error=self.last_error, rejected=health.rejected,
                day_reports=health.day_reports, reader=health.reader, sync_state=sync_state,
                sync_state_age_s=None if sync_age is None else round(sync_age, 1),
                disk_min_free_bytes=health.disk_min_free_bytes, doctor=health.doctor,
                update=self.update_report() if self.update_report else None),
                sleep=self.sleep,
                on_error=self._failed)
        except RetryBudgetExhausted as err:
            self._failed(err.last)
            raise
        except RequestError as err:
            self._failed(err)
            raise
        self._succeeded()
        if self.delivery_cause is not None and self.delivery_cause.code in CONNECTION:
            self.delivery_cause = None  # this answer disproves it; the next batch will tell
            self._delivery_failed_at = None
        return answer
