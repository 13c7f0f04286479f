"""Hypothesis: any sequence of registry calls leaves a store whose fold, projection and chain agree,
and purging every payload afterwards keeps the chain verifiable."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terminal.desk.registry import Registry
from terminal.domain.events import Event
from terminal.domain.fold import fold
from terminal.errors import DomainError
from terminal.store import event_chain, purge, queries, verify
from terminal.system.clock import FixedClock
from tests.terminal.registry_helpers import START, acknowledge_all, card_guest, open_store

ROOMS = ["101", "102", "201"]
NAMES = ["张三", "李四", "𠀾明", "Ωmega"]

operation = st.one_of(
    st.tuples(st.just("check_in"), st.sampled_from(ROOMS), st.integers(1, 3),
              st.sampled_from(NAMES)),
    st.tuples(st.just("add_guest"), st.integers(0, 9)),
    st.tuples(st.just("check_out"), st.integers(0, 9), st.booleans()),
    st.tuples(st.just("check_out_room"), st.sampled_from(ROOMS)),
    st.tuples(st.just("amend_room"), st.integers(0, 9), st.sampled_from(ROOMS)),
    st.tuples(st.just("void"), st.integers(0, 9)),
    st.tuples(st.just("undo_check_out"), st.integers(0, 9)),
)


def run(reg: Registry, ops: list[tuple], model: dict[str, str]) -> None:
    """Apply `ops`; the model tracks which stays must be in house (refusals change nothing)."""
    stays: list[str] = []
    rooms: dict[str, str] = {}  # each stay's room, in house or not
    serial = 0
    for op in ops:
        serial += 10
        pick = (lambda i: stays[i % len(stays)]) if stays else None
        try:
            if op[0] == "check_in":
                guests = [card_guest(name=op[3], serial=serial + i,
                                     role="main" if i == 0 else "companion")
                          for i in range(op[2])]
                saved = reg.check_in(room=op[1], guests=guests, operator="C01")
                stays.append(saved.stay_id)
                model[saved.stay_id] = rooms[saved.stay_id] = op[1]
            elif pick is None:
                continue
            elif op[0] == "add_guest":
                reg.add_guest(pick(op[1]), card_guest(role="companion", serial=serial),
                              operator="C01")
            elif op[0] == "check_out":
                stay_id = pick(op[1])
                with reg.store.reader() as conn:
                    stay = queries.show(conn, stay_id).stay
                here = [g.guest.guest_id for g in stay.guests_in_house()]
                reg.check_out(stay_id, operator="C01", guest_ids=here[:1] if op[2] else None)
                if not op[2] or len(here) == 1:
                    model.pop(stay_id, None)
            elif op[0] == "check_out_room":
                for saved in reg.check_out_room(op[1], operator="C01"):
                    model.pop(saved.stay_id, None)
            elif op[0] == "amend_room":
                stay_id = pick(op[1])
                old = model.get(stay_id, "?")
                reg.amend(stay_id, field="room", old=old, new=op[2], reason="换房",
                          operator="C01")
                model[stay_id] = rooms[stay_id] = op[2]
            elif op[0] == "undo_check_out":  # the stay's latest check-out still out, if any
                stay_id = pick(op[1])
                recent = [r for r in reg.recent_check_outs(3600) if r.stay_id == stay_id]
                if recent:
                    reg.undo_check_out(recent[0].event_id, operator="C01", within_s=3600)
                    model[stay_id] = rooms[stay_id]
            elif op[0] == "void":
                stay_id = pick(op[1])
                reg.void(stay_id, reason="误登记", operator="C01")
                model.pop(stay_id, None)
        except DomainError:
            pass  # refused: nothing written, the model is unchanged


def all_events(reg: Registry) -> list[Event]:
    with reg.store.reader() as conn:
        return [event_chain.event_from_row(r) for r in event_chain.iter_rows(conn)]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, max_size=14))
def test_any_call_sequence_folds_consistently_and_survives_purge(ops):
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(START)
        store = open_store(Path(tmp) / "t.db", clock=clock)
        try:
            reg = Registry(store)
            model: dict[str, str] = {}
            run(reg, ops, model)
            with store.reader() as conn:
                assert verify.verify(conn) == []
                listed = {row.stay_id: row.room for row in queries.list_in_house(conn)}
            assert listed == model
            folded = fold(all_events(reg))
            assert {s for s, stay in folded.items() if stay.status == "in_house"} == set(model)
            # Folding the payloads read back gives the same state as folding twice.
            assert fold(all_events(reg)) == folded

            acknowledge_all(store)
            result = purge.purge(store, retention_days=0, now=clock.wall + timedelta(days=1))
            assert result.stays == len(folded) - len(model)
            with store.reader() as conn:
                assert verify.verify(conn) == []
                purged = conn.execute("SELECT COUNT(*) FROM events WHERE payload IS NULL")
                assert (purged.fetchone()[0] > 0) == (result.stays > 0)
        finally:
            store.close()
