"""The uploader with an in-memory outbox and a fake client: halving a poison batch, 413,
rejections in the middle, and what stays 'sent' after a failure. No network, no sleeping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from sync import errors
from sync.protocol import BatchAnswer, EventResult, WireEvent
from sync.retry import RetryBudgetExhausted, RetryPolicy
from sync.uploader import Health, Uploader
from tests.sync.wire_helpers import EventChain


@dataclass
class MemoryOutbox:
    events: list[WireEvent]
    states: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.states = {e.event_id: "queued" for e in self.events}

    def pending(self, limit: int, max_bytes: int) -> list[WireEvent]:
        return [e for e in self.events if self.states[e.event_id] in ("queued", "sent")][:limit]

    def mark_sent(self, event_ids: Sequence[str]) -> None:
        self.states.update(dict.fromkeys(event_ids, "sent"))

    def record(self, results: Sequence[EventResult]) -> None:
        for r in results:
            assert r.event_id is not None
            self.states[r.event_id] = "acknowledged" if r.delivered else "rejected"

    def backlog(self) -> int:
        return sum(s in ("queued", "sent") for s in self.states.values())

    def health(self) -> Health:
        return Health(self.backlog(), None, 0, 1, True)


class FakeClient:
    """Fails any batch holding `poison` (500) or more than `max_events` (413)."""

    def __init__(self, poison: str | None = None, reject: str | None = None,
                 max_events: int = 1000, slow_above: int = 1000) -> None:
        self.poison, self.reject, self.max_events = poison, reject, max_events
        self.slow_above = slow_above  # batches larger than this time out on the link (408)
        self.sizes: list[int] = []

    def send_events(self, events: Sequence[WireEvent]) -> BatchAnswer:
        self.sizes.append(len(events))
        if len(events) > self.max_events:
            raise errors.TooLargeError("413", status=413)
        if len(events) > self.slow_above:
            raise errors.SlowUploadError("408", status=408, code="body_timeout")
        if any(e.event_id == self.poison for e in events):
            raise errors.ServerFailureError("500", status=500)
        return BatchAnswer("2025-03-01T00:00:00.000000Z", 0, tuple(
            EventResult(e.event_id, "rejected", code="bad", field="x", message="m")
            if e.event_id == self.reject else EventResult(e.event_id, "accepted", receipt="R")
            for e in events))


def events(n: int) -> list[WireEvent]:
    return EventChain("dev-unit", "4401040001").stays(n)


def uploader(outbox: MemoryOutbox, client: FakeClient) -> Uploader:
    return Uploader(outbox, client,  # type: ignore[arg-type]
                    policy=RetryPolicy(maybe_delivered_attempts=2), max_batch_events=8,
                    sleep=lambda s: None)


def test_poison_batch_is_narrowed_to_one_event_and_the_rest_delivered():
    evs = events(20)
    outbox, client = MemoryOutbox(evs), FakeClient(poison=evs[5].event_id)
    up = uploader(outbox, client)
    with pytest.raises(RetryBudgetExhausted):
        up.drain()
    assert client.sizes[-2:] == [1, 1]  # narrowed to the poison event alone
    assert outbox.states[evs[5].event_id] == "sent"  # never dropped, never acknowledged
    assert all(outbox.states[e.event_id] == "acknowledged" for e in evs[:5])
    assert up.last_error is not None


def test_too_large_halves_and_rejection_does_not_block():
    evs = events(20)
    outbox, client = MemoryOutbox(evs), FakeClient(reject=evs[3].event_id, max_events=3)
    report = uploader(outbox, client).drain()
    assert report.acknowledged == 19 and report.rejected == 1 and report.remaining == 0
    assert outbox.states[evs[3].event_id] == "rejected"
    assert client.sizes[:2] == [8, 4] and max(client.sizes[2:]) <= 3  # no widening back


def _drain_until_done(up: Uploader, rounds: int) -> list[str]:
    """`anju sync run` in short: drain again after each exhausted budget; the outcomes."""
    outcomes = []
    for _ in range(rounds):
        try:
            report = up.drain()
        except RetryBudgetExhausted:
            outcomes.append("failed")
            continue
        outcomes.append(f"done held_back={report.held_back}")
        if report.remaining == 0:
            break
    return outcomes


def test_an_event_the_server_fails_on_alone_is_held_back_and_the_rest_delivered():
    evs = events(20)
    poison = evs[5].event_id
    outbox, client = MemoryOutbox(evs), FakeClient(poison=poison)
    up = uploader(outbox, client)
    assert _drain_until_done(up, 10) == ["failed", "failed", "done held_back=1"]
    assert outbox.states[poison] == "rejected"  # visible, not delivered, not dropped
    assert all(outbox.states[e.event_id] == "acknowledged" for e in evs if e.event_id != poison)
    assert up.last_error is None


def test_a_server_failing_for_everyone_holds_nothing_back():
    evs = events(6)
    outbox = MemoryOutbox(evs)
    client = FakeClient()
    client.send_events = lambda batch: (_ for _ in ()).throw(  # type: ignore[method-assign]
        errors.ServerFailureError("500", status=500))
    up = uploader(outbox, client)
    assert _drain_until_done(up, 12) == ["failed"] * 12
    assert set(outbox.states.values()) <= {"queued", "sent"}  # all still waiting, none set aside


def test_the_last_event_is_never_held_back_for_lack_of_a_probe():
    evs = events(4)
    outbox, client = MemoryOutbox(evs), FakeClient(poison=evs[-1].event_id)
    up = uploader(outbox, client)
    assert _drain_until_done(up, 6) == ["failed"] * 6
    assert outbox.states[evs[-1].event_id] == "sent"
    assert [outbox.states[e.event_id] for e in evs[:3]] == ["acknowledged"] * 3


def test_a_body_timeout_halves_the_batch_until_it_fits_the_link():
    evs = events(20)
    outbox, client = MemoryOutbox(evs), FakeClient(slow_above=2)
    report = uploader(outbox, client).drain()
    assert report.acknowledged == 20 and report.remaining == 0
    assert client.sizes[:3] == [8, 4, 2]  # not retried at the size that timed out
    assert max(client.sizes[3:]) <= 4  # widened again after successes, halved again


def test_a_single_event_too_slow_for_the_link_stays_queued():
    evs = events(3)
    outbox, client = MemoryOutbox(evs), FakeClient(slow_above=0)
    up = uploader(outbox, client)
    with pytest.raises(errors.SlowUploadError):
        up.drain()
    assert client.sizes == [3, 1]
    assert set(outbox.states.values()) == {"sent"}  # not dropped, not acknowledged
    assert up.last_error == "SlowUploadError: body_timeout"
