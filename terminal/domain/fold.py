"""Folding events into stays: the one place that decides whether an event applies to a state.

The registry applies each new event to the current state *before* writing it, so an event that
would not fold is refused instead of stored; the verifier folds everything again and compares
with the projection table. Purged events (payload gone) still fold: purge only happens to
stays that are over, so their headers alone give the final status.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from terminal.domain.attachments import KINDS
from terminal.domain.events import Event, Kind
from terminal.domain.guests import MAIN, ROLES, Guest
from terminal.domain.stays import CHECKED_OUT, IN_HOUSE, VOIDED, Amendment, GuestStay, Stay
from terminal.errors import InvalidEventError, PurgedError

STAY_FIELDS = ("room", "expected_check_out")
GUEST_FIELDS = (
    "name", "surname_en", "given_names_en", "sex", "birth_date", "nationality", "nation_code",
    "address", "phone", "accompanied_by", "relationship", "role",
)
DOCUMENT_FIELDS = ("number", "valid_until", "issuing_country", "issuing_authority")


def fold(events: Iterable[Event]) -> dict[str, Stay]:
    stays: dict[str, Stay] = {}
    for event in events:
        apply(stays, event)
    return stays


def apply(stays: dict[str, Stay], event: Event) -> Stay:
    """Apply one event; raises InvalidEventError (leaving `stays` unchanged) if it does not fit."""
    if event.data is None:
        return _apply_purged(stays, event)
    if event.kind is Kind.CHECK_IN:
        return _check_in(stays, event)
    stay = stays.get(event.stay_id)
    if stay is None:
        raise _invalid(event, "no such stay", "找不到该入住记录")
    if stay.purged:
        raise PurgedError(f"stay {event.stay_id} was purged")
    if stay.status == VOIDED:
        raise _invalid(event, "the stay was voided", "该入住记录已作废")
    handler = {Kind.ADD_GUEST: _add_guest, Kind.CHECK_OUT: _check_out, Kind.AMEND: _amend,
               Kind.VOID: _void, Kind.CHECK_OUT_UNDONE: _undo_check_out}[event.kind]
    handler(stay, event)
    stay.event_ids.append(event.event_id)
    return stay


def _invalid(event: Event, why: str, why_zh: str) -> InvalidEventError:
    where = f"{event.kind} {event.event_id} on stay {event.stay_id}"
    return InvalidEventError(f"{where}: {why}", why_zh)


def _check_in(stays: dict[str, Stay], event: Event) -> Stay:
    data = event.data or {}
    if event.stay_id in stays:
        raise _invalid(event, "stay already exists", "入住记录已存在")
    if not str(data.get("room") or "").strip():
        raise _invalid(event, "room is required", "必须填写房号")
    guests = [Guest.from_json(g) for g in data.get("guests", [])]
    ids = [g.guest_id for g in guests]
    if not guests or len(set(ids)) != len(ids):
        raise _invalid(event, "guests missing or repeated", "住客为空或重复")
    if [g.role for g in guests].count(MAIN) != 1 or any(g.role not in ROLES for g in guests):
        raise _invalid(event, "exactly one main guest required", "必须且只能有一位主住客")
    attachments = list(data.get("attachments", []))
    if any(not isinstance(a, dict) or a.get("kind") not in KINDS for a in attachments):
        raise _invalid(event, "unknown attachment", "附件无法识别")
    expected = data.get("expected_check_out")
    stay = Stay(
        stay_id=event.stay_id, device_id=event.device_id, site_code=event.site_code,
        check_in_event_id=event.event_id, checked_in_at=event.wall_time,
        operator=event.operator, room=data["room"],
        expected_check_out=date.fromisoformat(expected) if expected else None,
        guests={g.guest_id: GuestStay(g, event.event_id, event.wall_time) for g in guests},
        findings=list(data.get("findings", [])), overrides=list(data.get("overrides", [])),
        event_ids=[event.event_id], attachments=attachments,
    )
    stays[stay.stay_id] = stay
    return stay


def _add_guest(stay: Stay, event: Event) -> None:
    data = event.data or {}
    if stay.status != IN_HOUSE:
        raise _invalid(event, "stay is not in house", "该入住记录已退房")
    guest = Guest.from_json(data["guest"])
    if guest.guest_id in stay.guests or guest.role == MAIN:
        raise _invalid(event, "guest already in stay or second main guest", "住客重复")
    stay.guests[guest.guest_id] = GuestStay(guest, event.event_id, event.wall_time)
    stay.findings.extend(data.get("findings", []))
    stay.overrides.extend(data.get("overrides", []))


def _check_out(stay: Stay, event: Event) -> None:
    guest_ids = list((event.data or {}).get("guest_ids", []))
    if stay.status != IN_HOUSE or not guest_ids or len(set(guest_ids)) != len(guest_ids):
        raise _invalid(event, "nothing to check out", "没有可退房的住客")
    for guest_id in guest_ids:
        guest_stay = stay.guests.get(guest_id)
        if guest_stay is None or not guest_stay.in_house:
            raise _invalid(event, "guest not in house", "该住客不在住")
    for guest_id in guest_ids:
        stay.guests[guest_id].checked_out_at = event.wall_time
        stay.guests[guest_id].checked_out_by = event.event_id
    if not stay.guests_in_house():
        stay.status, stay.checked_out_at = CHECKED_OUT, event.wall_time


def undoable(stay: Stay, check_out_event_id: str) -> list[str]:
    """The guests a check-out took out who are still out by it ([]: nothing to undo)."""
    return [gid for gid, g in stay.guests.items() if g.checked_out_by == check_out_event_id]


def _undo_check_out(stay: Stay, event: Event) -> None:
    """A check-out taken back: its guests (all of them, as it named them) are in house again.
    Only the latest state counts: a check-out undone already, or not this stay's, is refused."""
    guest_ids = list((event.data or {}).get("guest_ids", []))
    back = undoable(stay, event.target_event_id or "")
    if not back or sorted(guest_ids) != sorted(back):
        raise _invalid(event, "no such check-out to undo, or undone already",
                       "没有可撤销的退房")
    for guest_id in back:
        stay.guests[guest_id].checked_out_at = None
        stay.guests[guest_id].checked_out_by = None
    stay.status, stay.checked_out_at = IN_HOUSE, None


def _void(stay: Stay, event: Event) -> None:
    reason = str((event.data or {}).get("reason") or "").strip()
    if not reason:
        raise _invalid(event, "a void needs a reason", "作废必须填写原因")
    stay.status, stay.voided_at, stay.void_reason = VOIDED, event.wall_time, reason


def _amend(stay: Stay, event: Event) -> None:
    data = event.data or {}
    path, old, new = data.get("field", ""), data.get("old"), data.get("new")
    if not str(data.get("reason") or "").strip():
        raise _invalid(event, "an amendment needs a reason", "更正必须填写原因")
    current = get_field(stay, path, event)
    if current != old or old == new:
        raise _invalid(event, f"{path}: old value does not match or nothing changes",
                       "原值不符或未作修改")
    set_field(stay, path, new, event)
    stay.amendments.append(
        Amendment(event.event_id, path, old, new, data["reason"], event.operator, event.wall_time)
    )


def _split(stay: Stay, path: str, event: Event) -> tuple[str | None, list[str]]:
    parts = path.split(".")
    if len(parts) == 1 and parts[0] in STAY_FIELDS:
        return None, parts
    if len(parts) >= 3 and parts[0] == "guest" and parts[1] in stay.guests:
        rest = parts[2:]
        if (len(rest) == 1 and rest[0] in GUEST_FIELDS) or (
            len(rest) == 2 and rest[0] == "document" and rest[1] in DOCUMENT_FIELDS
        ):
            return parts[1], rest
    raise _invalid(event, f"field {path!r} cannot be amended", "该项不能更正")


def get_field(stay: Stay, path: str, event: Event) -> Any:
    guest_id, rest = _split(stay, path, event)
    if guest_id is None:
        value = getattr(stay, rest[0])
        return value.isoformat() if isinstance(value, date) else value
    node: Any = stay.guests[guest_id].guest.to_json()
    for key in rest:
        node = node[key]
    return node


def set_field(stay: Stay, path: str, value: Any, event: Event) -> None:
    guest_id, rest = _split(stay, path, event)
    if guest_id is None:
        if rest[0] == "room" and not str(value or "").strip():
            raise _invalid(event, "room is required", "必须填写房号")
        stay.room = value if rest[0] == "room" else stay.room
        if rest[0] == "expected_check_out":
            stay.expected_check_out = date.fromisoformat(value) if value else None
        return
    guest_stay = stay.guests[guest_id]
    doc = guest_stay.guest.to_json()
    target = doc["document"] if len(rest) == 2 else doc
    target[rest[-1]] = value
    try:
        guest = Guest.from_json(doc)
    except (TypeError, ValueError) as err:
        raise _invalid(event, f"{path}: invalid value", "更正的值无效") from err
    if guest.role not in ROLES or (guest.role == MAIN and guest_stay.guest.role != MAIN):
        raise _invalid(event, "role change not allowed", "不能更改主住客")
    guest_stay.guest = guest


def _apply_purged(stays: dict[str, Stay], event: Event) -> Stay:
    stay = stays.get(event.stay_id)
    if event.kind is Kind.CHECK_IN:
        stay = Stay(
            stay_id=event.stay_id, device_id=event.device_id, site_code=event.site_code,
            check_in_event_id=event.event_id, checked_in_at=event.wall_time,
            operator=event.operator, room=None, status=CHECKED_OUT, purged=True,
        )
        stays[stay.stay_id] = stay
    elif stay is None:
        raise _invalid(event, "no such stay", "找不到该入住记录")
    else:
        stay.purged = True
    if event.kind is Kind.CHECK_OUT:
        stay.checked_out_at = event.wall_time
    elif event.kind is Kind.CHECK_OUT_UNDONE:
        stay.checked_out_at = None  # a purged stay is over: a later check-out follows
    elif event.kind is Kind.VOID:
        stay.status, stay.voided_at = VOIDED, event.wall_time
    stay.event_ids.append(event.event_id)
    return stay


def purgeable(stay: Stay) -> bool:
    """Only a stay that is over can lose its personal data."""
    return stay.status in (CHECKED_OUT, VOIDED)

