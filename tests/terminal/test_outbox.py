"""terminal/store/outbox.py: the one owner of the outbox's states, SQL and summary.

The schema's trigger refuses an illegal move; these tests check that the outbox's own calls
never ask for one: an answer or a re-send for a row that moved on changes nothing.
"""

from __future__ import annotations

from datetime import timedelta

from sync.protocol import ACCEPTED, REJECTED, EventResult
from terminal.desk.registry import Registry
from terminal.store import outbox, schema
from terminal.store.outbox import OutboxState, StoreOutbox
from terminal.system.clock import FixedClock
from tests.terminal.registry_helpers import card_guest


def states(reg: Registry) -> dict[str, OutboxState]:
    with reg.store.reader() as conn:
        return {event_id: OutboxState(state) for event_id, state in
                conn.execute("SELECT event_id, state FROM outbox")}


def test_the_enum_is_the_schemas_frozen_list() -> None:
    assert [s.value for s in OutboxState] == list(schema.OUTBOX_STATES)
    assert outbox.states_sql(outbox.PENDING) == "('queued', 'sent')"


def test_mark_sent_leaves_an_answered_row_as_it_is(reg: Registry) -> None:
    saved = reg.check_in(room="101", guests=[card_guest()], operator="C01")
    (event_id,) = saved.event_ids
    box = StoreOutbox(reg.store)
    box.mark_sent([event_id])
    box.record([EventResult(event_id, ACCEPTED, receipt="R-1")])
    assert states(reg) == {event_id: OutboxState.ACKNOWLEDGED}
    box.mark_sent([event_id])  # a late re-send of a delivered event: refused by the guard
    assert states(reg) == {event_id: OutboxState.ACKNOWLEDGED}
    with reg.store.reader() as conn:
        assert conn.execute("SELECT receipt, attempts FROM outbox").fetchone() == ("R-1", 1)


def test_an_answer_for_a_row_not_sent_changes_nothing(reg: Registry) -> None:
    (event_id,) = reg.check_in(room="101", guests=[card_guest()], operator="C01").event_ids
    box = StoreOutbox(reg.store)
    box.record([EventResult(event_id, ACCEPTED, receipt="R-1")])
    assert states(reg) == {event_id: OutboxState.QUEUED}
    box.mark_sent([event_id])
    box.mark_sent([event_id])  # sent -> sent: re-sent after no answer
    box.record([EventResult(event_id, REJECTED, code="invalid_field", field="room",
                            message="bad room")])
    assert states(reg) == {event_id: OutboxState.REJECTED}
    box.mark_sent([event_id])  # a rejected row is not sent again until the clerk corrects it
    assert states(reg) == {event_id: OutboxState.REJECTED}
    assert box.rejections() == [("invalid_field", "room", 1)]


def test_one_summary_for_the_heartbeat_the_status_bar_and_the_cli(
        reg: Registry, clock: FixedClock) -> None:
    first = reg.check_in(room="101", guests=[card_guest()], operator="C01").event_ids[0]
    first_at = clock.wall
    clock.wall += timedelta(minutes=5)
    second = reg.check_in(room="102", guests=[card_guest(serial=2)], operator="C01").event_ids[0]
    box = StoreOutbox(reg.store)
    box.mark_sent([first, second])
    box.record([EventResult(second, REJECTED, code="invalid_field", field="room", message="x")])
    with reg.store.reader() as conn:
        counts = outbox.summary(conn)
        assert outbox.count(conn, OutboxState.SENT) == 1
        assert outbox.undelivered_ids(conn) == {first}
        assert outbox.rejected_events(conn) == [(second, "invalid_field", "x")]
    assert (counts.backlog, counts.rejected) == (1, 1)
    assert counts.oldest is not None and first_at - counts.oldest < timedelta(seconds=1)
    later = counts.oldest + timedelta(minutes=10)
    assert counts.oldest_age_s(later) == 600.0
    heartbeat = box.health(now=later)
    assert (heartbeat.backlog, heartbeat.rejected, heartbeat.oldest_queued_age_s) == (1, 1, 600.0)
    assert box.backlog() == 1


def test_a_void_supersedes_the_unsent_events_only(reg: Registry) -> None:
    saved = reg.check_in(room="101", guests=[card_guest()], operator="C01")
    box = StoreOutbox(reg.store)
    box.mark_sent(list(saved.event_ids))
    box.record([EventResult(saved.event_ids[0], ACCEPTED, receipt="R-1")])
    other = reg.check_in(room="102", guests=[card_guest(serial=2)], operator="C01")
    void = reg.void(other.stay_id, reason="wrong room", operator="C01")
    found = states(reg)
    assert found[saved.event_ids[0]] == OutboxState.ACKNOWLEDGED
    assert found[other.event_ids[0]] == OutboxState.SUPERSEDED
    assert found[void.event_ids[0]] == OutboxState.QUEUED
    with reg.store.reader() as conn:
        rows = outbox.delivery_rows(conn, [other.stay_id])
    assert [r.state for r in rows] == [OutboxState.SUPERSEDED, OutboxState.QUEUED]
