"""The domain calls the page and the CLI use; each returns only after its SQLite commit.

    check_in      a new stay: room, main guest and companions, findings recorded
    add_guest     a companion arriving later
    check_out     per guest, per stay, per room, or a list of stays (group), in one transaction
    undo_check_out  a check-out taken back within a few minutes (a new event, nothing deleted)
    amend         one field: old value, new value, reason
    void          the whole stay, with a reason; its undelivered events are superseded
    list_in_house, list_stays, show    reads, on reader connections (terminal/store/queries.py)

Capture checks run inside the write transaction (BEGIN IMMEDIATE), so "this document is already
in house" cannot race with a check-in being saved at the same moment.

"Today" for the checks comes from `_today`: the clock's reading when it is trusted, else the
latest day we can vouch for; then the date rules only warn and the event records
`date_checks` (the clock's state, the day checked against, whether the clerk confirmed) so the
server and officers see the checks were downgraded and why (docs/time.md).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from terminal.desk import checkday
from terminal.domain import checks
from terminal.domain.attachments import Attachment
from terminal.domain.checks import Finding, Override
from terminal.domain.codes import code_tables
from terminal.domain.events import Kind
from terminal.domain.fold import undoable
from terminal.domain.guests import Guest
from terminal.domain.stays import IN_HOUSE, Stay
from terminal.errors import BlockedError, InvalidEventError, StayNotFoundError, ValidationError
from terminal.store import event_chain, queries, stay_views
from terminal.store.database import Store
from terminal.store.writer import Txn
from terminal.system.clock import Instant, Trust
from terminal.system.ids import new_id


@dataclass(frozen=True, slots=True)
class Saved:
    """What was committed: the stay, the new events (in order) and every finding shown."""

    stay_id: str
    event_ids: tuple[str, ...]
    findings: tuple[Finding, ...] = ()


class Registry:
    def __init__(self, store: Store, *, timezone: str = "Asia/Shanghai") -> None:
        self.store = store
        self.zone = ZoneInfo(timezone)

    # -- writes --------------------------------------------------------------------------

    def check_in(
        self, *, room: str, guests: Sequence[Guest], operator: str,
        expected_check_out: date | None = None, overrides: Sequence[Override] = (),
        stay_id: str | None = None, attachments: Sequence[Attachment] = (),
        dates_confirmed: bool = False,
    ) -> Saved:
        """`dates_confirmed`: the clerk checked the document's dates and the guest's age by eye
        (needed only while the clock is not trusted and a date rule fired)."""
        _require_operator(operator)
        room = room.strip()
        retried = stay_id is not None  # a caller-chosen id may already exist: look it up
        stay_id = stay_id or new_id()

        def work(txn: Txn) -> Saved:
            instant = txn.now()
            today, trust = self._today(txn, instant)
            adults = {g.guest_id: g for g in guests if not g.is_minor(today)}
            findings = checks.check_room(room, _occupants(txn, room))
            if [g.role for g in guests].count("main") != 1:
                findings.append(checks.finding("party.main_guest", "guests"))
            known = _documents_in_house(txn, guests)
            for guest in guests:
                findings += checks.check_guest(guest, today=today, in_house_documents=known,
                                               adults=adults)
            findings = checkday.for_clock(findings, trust)
            used = _resolve(findings, overrides, dates_confirmed)
            data: dict[str, Any] = {
                "room": room,
                "expected_check_out": (
                    expected_check_out.isoformat() if expected_check_out else None
                ),
                "guests": [g.to_json() for g in guests],
                "findings": [f.to_json() for f in findings],
                "overrides": used,
                "code_tables": code_tables().versions,
            }
            if attachments:  # scanned QR/booking codes; a 网证 payload stays opaque
                data["attachments"] = [a.to_json() for a in attachments]
            checkday.note(data, trust, today, findings, dates_confirmed)
            existing = txn.load_stay(stay_id) if retried else None  # a retry is refused
            stays = {stay_id: existing} if existing else {}
            event = txn.append(stays, kind=Kind.CHECK_IN, stay_id=stay_id, data=data,
                               operator=operator, instant=instant)
            return Saved(stay_id, (event.event_id,), tuple(findings))

        return self.store.writer.transaction(work)

    def add_guest(
        self, stay_id: str, guest: Guest, *, operator: str, overrides: Sequence[Override] = (),
        dates_confirmed: bool = False,
    ) -> Saved:
        _require_operator(operator)

        def work(txn: Txn) -> Saved:
            stay = _load(txn, stay_id)
            instant = txn.now()
            today, trust = self._today(txn, instant)
            adults = {g.guest.guest_id: g.guest for g in stay.guests_in_house()
                      if not g.guest.is_minor(today)}
            findings = checkday.for_clock(checks.check_guest(
                guest, today=today, adults=adults,
                in_house_documents=_documents_in_house(txn, [guest])), trust)
            used = _resolve(findings, overrides, dates_confirmed)
            data: dict[str, Any] = {"guest": guest.to_json(),
                                    "findings": [f.to_json() for f in findings],
                                    "overrides": used}
            checkday.note(data, trust, today, findings, dates_confirmed)
            event = txn.append({stay_id: stay}, kind=Kind.ADD_GUEST, stay_id=stay_id, data=data,
                               operator=operator, instant=instant)
            return Saved(stay_id, (event.event_id,), tuple(findings))

        return self.store.writer.transaction(work)

    def check_out(
        self, stay_id: str, *, operator: str, guest_ids: Sequence[str] | None = None
    ) -> Saved:
        """Check out some guests of a stay, or (guest_ids None) everyone still in house."""
        _require_operator(operator)
        return self.store.writer.transaction(
            lambda txn: _check_out(txn, _load(txn, stay_id), operator, guest_ids)
        )

    def check_out_stays(self, stay_ids: Sequence[str], *, operator: str) -> list[Saved]:
        """Group check-out: every stay or none."""
        _require_operator(operator)
        return self.store.writer.transaction(
            lambda txn: [_check_out(txn, _load(txn, s), operator, None) for s in stay_ids]
        )

    def check_out_room(self, room: str, *, operator: str) -> list[Saved]:
        """Check out every stay in house in a room."""
        _require_operator(operator)

        def work(txn: Txn) -> list[Saved]:
            stay_ids = stay_views.in_house_in_room(txn.conn, room.strip())
            if not stay_ids:
                raise StayNotFoundError(f"no stay in house in room {room!r}",
                                        f"{room} 房没有在住的住客")
            return [_check_out(txn, _load(txn, s), operator, None) for s in stay_ids]

        return self.store.writer.transaction(work)

    def undo_check_out(self, check_out_event_id: str, *, operator: str,
                       within_s: float | None = None) -> Saved:
        """Take a check-out back (a new `check_out_undone` event; nothing is deleted): its
        guests are in house again. `within_s`: refused once that long has passed since the
        check-out, measured on the monotonic clock of the same boot (a wall clock set after
        the check-out cannot widen or shut the window; after a reboot it is shut)."""
        _require_operator(operator)

        def work(txn: Txn) -> Saved:
            row = event_chain.event_header(txn.conn, check_out_event_id)
            if row is None or row.kind is not Kind.CHECK_OUT:
                raise StayNotFoundError(f"no check-out {check_out_event_id}", "找不到该退房记录")
            stay = _load(txn, row.stay_id)
            instant = txn.now()
            if within_s is not None and (instant.boot_id != row.boot_id or
                                         instant.monotonic_ns - row.monotonic_ns > within_s * 1e9):
                raise InvalidEventError(f"check-out {check_out_event_id}: too late to undo",
                                        "退房已超过可撤销的时限")
            data = {"guest_ids": undoable(stay, check_out_event_id)}
            event = txn.append({stay.stay_id: stay}, kind=Kind.CHECK_OUT_UNDONE,
                               stay_id=stay.stay_id, data=data, operator=operator,
                               target_event_id=check_out_event_id, instant=instant)
            return Saved(stay.stay_id, (event.event_id,))

        return self.store.writer.transaction(work)

    def amend(
        self, stay_id: str, *, field: str, old: Any, new: Any, reason: str, operator: str
    ) -> Saved:
        _require_operator(operator)
        _require_reason(reason)

        def work(txn: Txn) -> Saved:
            stay = _load(txn, stay_id)
            target = stay.check_in_event_id
            parts = field.split(".")
            if parts[0] == "guest" and len(parts) > 2 and parts[1] in stay.guests:
                target = stay.guests[parts[1]].added_event_id
            data = {"field": field, "old": old, "new": new, "reason": reason.strip()}
            event = txn.append({stay_id: stay}, kind=Kind.AMEND, stay_id=stay_id, data=data,
                               operator=operator, target_event_id=target)
            return Saved(stay_id, (event.event_id,))

        return self.store.writer.transaction(work)

    def void(self, stay_id: str, *, reason: str, operator: str) -> Saved:
        _require_operator(operator)
        _require_reason(reason)

        def work(txn: Txn) -> Saved:
            stay = _load(txn, stay_id)
            event = txn.append({stay_id: stay}, kind=Kind.VOID, stay_id=stay_id,
                               data={"reason": reason.strip()}, operator=operator,
                               target_event_id=stay.check_in_event_id)
            txn.supersede_pending(stay_id, event.event_id)
            return Saved(stay_id, (event.event_id,))

        return self.store.writer.transaction(work)

    # -- the day the checks use -------------------------------------------------------------

    def _today(self, txn: Txn, instant: Instant) -> tuple[date, Trust]:
        return checkday.today(txn.conn, instant, self.store.writer.clock.not_before, self.zone)

    def today(self) -> tuple[date, Trust]:
        """The guesthouse's day the next check-in will be checked against, and the clock's
        trust (the page decides who is a minor with it, exactly as the registry will)."""
        instant = self.store.writer.clock.now()
        with self.store.reader() as conn:
            return checkday.today(conn, instant, self.store.writer.clock.not_before, self.zone)

    # -- reads (own reader connection each: never the writer's) ---------------------------

    def preview(self, guests: Sequence[Guest]) -> list[Finding]:
        """The guests' findings as check_in will find them, before the room and the minors'
        links are known (those are asked on the form itself), so the page shows them as soon
        as a guest is added: the confirm never surprises the clerk."""
        instant = self.store.writer.clock.now()
        with self.store.reader() as conn:
            today, trust = checkday.today(conn, instant, self.store.writer.clock.not_before,
                                          self.zone)
            known = _documents_in(conn, guests)
        adults = {g.guest_id: g for g in guests if not g.is_minor(today)}
        findings: list[Finding] = []
        for guest in guests:
            findings += [f for f in checks.check_guest(guest, today=today, adults=adults,
                                                       in_house_documents=known)
                         if not f.code.startswith("minor.")]
        return checkday.for_clock(findings, trust)

    def list_in_house(self) -> list[queries.StayRow]:
        with self.store.reader() as conn:
            return queries.list_in_house(conn)

    def recent_check_outs(self, within_s: float) -> list[queries.RecentCheckOut]:
        """Check-outs of the last `within_s` seconds (this boot) that can still be undone."""
        instant = self.store.writer.clock.now()
        since = instant.monotonic_ns - int(within_s * 1e9)
        with self.store.reader() as conn:
            return queries.recent_check_outs(conn, instant.boot_id, since)

    def list_stays(self, *, limit: int = 100) -> list[queries.StayRow]:
        with self.store.reader() as conn:
            return queries.list_stays(conn, limit=limit)

    def show(self, stay_id: str) -> queries.StayDetail:
        with self.store.reader() as conn:
            return queries.show(conn, stay_id)


def _check_out(txn: Txn, stay: Stay, operator: str, guest_ids: Sequence[str] | None) -> Saved:
    if stay.status != IN_HOUSE:
        raise InvalidEventError(f"stay {stay.stay_id} is not in house", "该入住记录不在住")
    ids = list(guest_ids) if guest_ids else [g.guest.guest_id for g in stay.guests_in_house()]
    event = txn.append({stay.stay_id: stay}, kind=Kind.CHECK_OUT, stay_id=stay.stay_id,
                       data={"guest_ids": ids}, operator=operator)
    return Saved(stay.stay_id, (event.event_id,))


def _load(txn: Txn, stay_id: str) -> Stay:
    stay = txn.load_stay(stay_id)
    if stay is None:
        raise StayNotFoundError(f"no stay {stay_id}", "找不到该入住记录")
    return stay


def _occupants(txn: Txn, room: str) -> int:
    return stay_views.guests_in_house_in_room(txn.conn, room)


def _documents_in_house(txn: Txn, guests: Sequence[Guest]) -> dict[tuple[str, str], str]:
    return _documents_in(txn.conn, guests)


def _documents_in(conn: sqlite3.Connection, guests: Sequence[Guest]
                  ) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for guest in guests:
        key = guest.document.key()
        room = stay_views.room_holding_document(conn, *key)
        if room is not None:
            found[key] = room
    return found


def _resolve(findings: list[Finding], overrides: Sequence[Override],
             dates_confirmed: bool = False) -> list[dict[str, Any]]:
    """Raise BlockedError for blocking findings left; return the overrides that were used."""
    if checks.unresolved(findings, overrides, dates_confirmed=dates_confirmed):
        raise BlockedError(findings)
    blocking = {(f.code, f.guest_id) for f in findings if f.blocks or f.needs_confirm}
    return [{"code": o.code, "guest_id": o.guest_id, "reason": o.reason.strip()}
            for o in overrides if (o.code, o.guest_id) in blocking]


def _require_operator(operator: str) -> None:
    if not operator.strip():
        raise ValidationError("operator (staff number) is required", "必须填写操作员工号",
                              field="operator")


def _require_reason(reason: str) -> None:
    if not reason.strip():
        raise ValidationError("a reason is required", "必须填写原因", field="reason")
