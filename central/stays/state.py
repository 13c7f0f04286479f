"""The current state of each stay, folded from its stored events, for police search.

Generic on the payload JSON (the server does not import the terminal's domain): it reads only
the few keys search needs, and ignores what it does not know. The fold is recomputed from all
of a stay's events in sequence order whenever one of them arrives, so the result does not
depend on the order batches arrived in; a stay whose check-in has not arrived yet is kept with
`complete = false`. Times are the corrected event times (central/devices/event_time.py).

Only the owner's events are folded (central/stays/ownership.py): device and site are the owner's,
and an event of another device stored before ownership was enforced (revision 0008) is ignored.

    check_in   data.room, data.guests[] (guest_id, role, name, surname_en, given_names_en,
               nationality, document.type_code, document.number)
    add_guest  data.guest
    check_out  data.guest_ids[]: the stay is checked out when no guest is left in house
    check_out_undone  target_event_id: that check-out's guests, still out by it, are in house
               again (and so the stay); an undo of anything else changes nothing
    amend      data.field ("room", "guest.<id>.<key>", "guest.<id>.document.<key>"), data.new
    void       the stay is voided
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from central import payloads
from central.clock import DEVICE
from central.db import bulk
from central.db.tables import events, stay_guests, stays
from central.stays.ownership import owners_of

NAME_KEY_LENGTH = 200  # stay_guests.name, the search key; longer names go whole in full_name


# A stored event as the batch inserted it: the same fields, values and types as a row of
# `events` read back (what fold() and the feed's records use, by attribute).
StoredEvent = namedtuple("StoredEvent", [c.name for c in events.c])  # type: ignore[misc]


@dataclass
class Refolded:
    """What a refold read and made: the owner's events of each stay (sequence order) and
    the stay's state folded from them (stay row, guest rows)."""

    events: dict[str, list[Any]] = field(default_factory=dict)
    states: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = field(default_factory=dict)


def refold(conn: Connection, stay_ids: Iterable[str], now: str,
           owners: dict[str, str] | None = None,
           fresh: dict[str, list[dict[str, Any]]] | None = None) -> Refolded:
    """Fold the stays again from their events: one read of the events, one delete and one
    insert each for stays and guests, whatever the number of stays (central/db/bulk.py).
    `owners` (stay_id -> device_id) when the caller has them. `fresh`: stays that have no
    stored event, stay row or guest row but the given event rows (inserted by this
    transaction; ingest's newly claimed stays): folded from those, neither read nor deleted.
    Returns the folded events per stay (the owner's, in sequence order) and the folds, which
    the feed reuses."""
    fresh = fresh or {}
    wanted = sorted(set(stay_ids) - set(fresh))
    by_stay: dict[str, list[Any]] = {
        stay_id: sorted((StoredEvent(**row) for row in rows), key=lambda r: r.sequence)
        for stay_id, rows in sorted(fresh.items()) if rows
    }
    if wanted:
        rows = sorted(bulk.select_any(conn, list(events.c), events.c.stay_id, wanted),
                      key=lambda r: (r.stay_id, r.device_id, r.sequence))
        if owners is None:
            owners = owners_of(conn, wanted)
        for row in rows:
            if owners.get(row.stay_id, row.device_id) == row.device_id:
                by_stay.setdefault(row.stay_id, []).append(row)
        bulk.delete_any(conn, stay_guests.c.stay_id, wanted)
        bulk.delete_any(conn, stays.c.stay_id, wanted)
    if not by_stay:
        return Refolded()
    done = Refolded(by_stay)
    stay_rows, guest_rows = [], []
    for stay_id, stay_events in by_stay.items():
        stay, guests = done.states[stay_id] = fold(stay_id, stay_events, now)
        stay_rows.append(stay)
        guest_rows += guests
    bulk.insert_rows(conn, stays, stay_rows)
    bulk.insert_rows(conn, stay_guests, guest_rows)
    return done


def fold(stay_id: str, rows: Sequence[Any], now: str) -> tuple[dict[str, Any],
                                                             list[dict[str, Any]]]:
    first = rows[0]
    stay: dict[str, Any] = {
        "stay_id": stay_id, "device_id": first.device_id, "site_code": first.site_code,
        "room": None, "status": "in_house", "complete": False, "checked_in_at": None,
        "checked_out_at": None, "voided_at": None, "time_corrected": False,
        "event_count": len(rows), "updated_at": now, "stay_month": first.stay_month,
    }
    guests: dict[str, dict[str, Any]] = {}
    for row in rows:
        data = payloads.data(row.payload)
        at = row.corrected_time
        stay["time_corrected"] |= row.time_source != DEVICE
        if row.kind == "check_in":
            stay.update(complete=True, checked_in_at=at, room=data.get("room"))
            for guest in _list(data.get("guests")):
                _add(guests, guest, at)
        elif row.kind == "add_guest":
            _add(guests, data.get("guest"), at)
        elif row.kind == "check_out":
            for guest_id in _list(data.get("guest_ids")):
                if isinstance(guest_id, str):
                    entry = guests.setdefault(guest_id, {"guest_id": guest_id, "doc": {}})
                    entry.update(out=at, out_by=row.event_id)
            if guests and all(g.get("out") for g in guests.values()):
                stay.update(status="checked_out", checked_out_at=at)
        elif row.kind == "check_out_undone":
            back = [g for g in guests.values() if row.target_event_id and
                    g.get("out_by") == row.target_event_id]
            for entry in back:
                entry.update(out=None, out_by=None)
            if back and stay["status"] == "checked_out":
                stay.update(status="in_house", checked_out_at=None)
        elif row.kind == "amend":
            _amend(stay, guests, data)
        elif row.kind == "void":
            stay.update(status="voided", voided_at=at)
    if stay["status"] == "voided" and stay["checked_out_at"]:
        stay["checked_out_at"] = None
    return stay, [_guest_row(stay_id, g, stay["checked_in_at"], first.stay_month)
                  for g in guests.values()]


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _add(guests: dict[str, dict[str, Any]], guest: Any, at: str) -> None:
    if not isinstance(guest, dict) or not isinstance(guest.get("guest_id"), str):
        return
    entry = guests.setdefault(guest["guest_id"], {"guest_id": guest["guest_id"]})
    entry.update(guest)  # its guest_id is the entry's own
    document = guest.get("document")
    entry["doc"] = dict(document) if isinstance(document, dict) else {}  # amended: a copy
    entry["in"] = at


def _amend(stay: dict[str, Any], guests: dict[str, dict[str, Any]], data: dict[str, Any]) -> None:
    path = str(data.get("field") or "").split(".")
    new = data.get("new")
    if path == ["room"]:
        stay["room"] = new
    elif len(path) == 3 and path[0] == "guest" and path[1] in guests:
        guests[path[1]][path[2]] = new
    elif len(path) == 4 and path[0] == "guest" and path[2] == "document" and path[1] in guests:
        guests[path[1]]["doc"][path[3]] = new


def _guest_row(stay_id: str, guest: dict[str, Any], stay_checked_in_at: str | None,
               stay_month: str) -> dict[str, Any]:
    doc = guest.get("doc") or {}
    latin = " ".join(str(p) for p in (guest.get("surname_en"), guest.get("given_names_en")) if p)
    raw_name = guest.get("name") or latin or None
    name = None if raw_name is None else str(raw_name)
    return {
        "stay_id": stay_id, "guest_id": guest["guest_id"], "role": _text(guest.get("role"), 16),
        "name": _text(name, NAME_KEY_LENGTH),
        "full_name": name if name is not None and len(name) > NAME_KEY_LENGTH else None,
        "document_type": _text(doc.get("type_code"), 8),
        "document_number": _text(doc.get("number"), 64),
        "nationality": _text(guest.get("nationality"), 3),
        "checked_in_at": guest.get("in"), "checked_out_at": guest.get("out"),
        "stay_checked_in_at": stay_checked_in_at, "stay_month": stay_month,
    }


def _text(value: Any, max_len: int) -> str | None:
    return None if value is None else str(value)[:max_len]
