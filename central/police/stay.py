"""One stay as a police officer sees it: guests, every event, and how each event arrived.

For each event: what it changed (an amendment's field, old and new value and reason; a void's
reason), the clerk who did it (the terminal's operator), and its provenance: device, sequence,
whether its hash chain verifies (no link/hash/fork fault at it and its predecessor stored), the
device's own wall time against the corrected time and how that was corrected.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, tuple_

from central import clock
from central.accounts.principals import Principal
from central.db.tables import chain_faults, events, sites, stay_guests, stays
from central.errors import NotFoundError
from central.police import record, words
from central.police.search import attach_guests, scope_ok, shown_guest

# date_checks: the terminal's clock was not trusted, its date rules only warned (docs/time.md)
_SHOWN_KEYS = ("field", "old", "new", "reason", "room", "guest_ids", "date_checks")


def load(conn: Connection, stay_id: str, who: Principal) -> dict[str, Any]:
    """The stay with guests, site name and event history; NotFound also outside the district
    (so a restricted officer cannot even learn that the stay exists)."""
    row = conn.execute(select(stays, sites.c.name.label("site_name"))
                       .outerjoin(sites, sites.c.code == stays.c.site_code)
                       .where(stays.c.stay_id == stay_id)).first()
    if row is None or not scope_ok(conn, who, row.site_code):
        raise NotFoundError("no such stay")
    stay = dict(row._mapping)
    attach_guests(conn, [stay], site_names=False)  # joined above
    stay["events"] = history(conn, stay_id, row.device_id)
    describe(stay)
    return stay


def describe(stay: dict[str, Any]) -> None:
    """Add what the terminal registered, in words: each guest's fields (`rows`, and `fields`
    as sent), the findings with override reasons, who registered it on which terminal, each
    amendment as old -> new, and the page's title (guesthouse, room, date)."""
    registered = record.guests_as_registered(stay["events"])
    names = {g["guest_id"]: g.get("name") or "" for g in stay["guests"]}
    names |= {gid: g.get("name") or names.get(gid, "") for gid, g in registered.items()}
    day = clock.show(stay.get("checked_in_at"))[:10] or None
    for guest in stay["guests"]:
        fields = registered.get(guest["guest_id"])
        guest["fields"] = fields
        guest["rows"] = record.guest_rows(fields, names, day) if fields else []
    stay["findings"] = record.findings(stay["events"], names)
    check_in = next((e for e in stay["events"] if e["kind"] == "check_in"), None)
    stay["registered_by"] = ({"operator": check_in["operator"], "device_id": check_in["device_id"]}
                             if check_in else None)
    for event in stay["events"]:
        if event["kind"] == "amend" and not event["withheld"]:
            event["amendment"] = record.amendment(event["data"], names)
    when = clock.show(stay.get("checked_in_at"))[:10]
    stay["title"] = " ".join(p for p in (stay.get("site_name") or stay["site_code"],
                                         f"{stay['room']} 房" if stay.get("room") else "",
                                         when) if p)
    stay["status_name"] = words.STATUS.get(stay["status"], stay["status"])


def history(conn: Connection, stay_id: str, owner: str) -> list[dict[str, Any]]:
    """The owner's events (another device's, stored before revision 0008, are not the stay's)."""
    rows = conn.execute(select(events).where(events.c.stay_id == stay_id,
                                             events.c.device_id == owner)
                        .order_by(events.c.sequence)).all()
    verified = _verified(conn, [(r.device_id, r.sequence, r.prev_chain_sha256) for r in rows])
    out = []
    for row in rows:
        data = record.payload_data(row.payload)
        out.append({
            "event_id": row.event_id, "kind": row.kind, "operator": row.operator,
            "device_id": row.device_id, "sequence": row.sequence,
            "target_event_id": row.target_event_id,
            "wall_time": row.wall_time, "clock_synchronised": row.clock_synchronised,
            "corrected_time": row.corrected_time, "time_source": row.time_source,
            "received_at": row.received_at, "withheld": row.withheld,
            "detail": {k: data[k] for k in _SHOWN_KEYS if k in data}, "data": data,
            "chain_verified": verified[(row.device_id, row.sequence)],
        })
    return out


def _verified(conn: Connection, links: list[tuple[str, int, str]]
              ) -> dict[tuple[str, int], bool]:
    """Per (device, sequence): no link/hash/fork fault covers it, and its predecessor is stored
    once with the chain hash it names. Two queries for the whole stay (the page waited on two
    round trips per event before)."""
    if not links:
        return {}
    devices = sorted({device for device, _, _ in links})
    faults = conn.execute(select(chain_faults.c.device_id, chain_faults.c.first_sequence,
                                 chain_faults.c.last_sequence).where(
        chain_faults.c.device_id.in_(devices), chain_faults.c.kind != "gap",
        chain_faults.c.first_sequence <= max(seq for _, seq, _ in links),
        chain_faults.c.last_sequence >= min(seq for _, seq, _ in links))).all()
    wanted = [(device, seq - 1) for device, seq, _ in links if seq > 1]
    previous: dict[tuple[str, int], list[str]] = {}
    if wanted:
        for row in conn.execute(select(events.c.device_id, events.c.sequence,
                                       events.c.chain_sha256)
                                .where(tuple_(events.c.device_id, events.c.sequence)
                                       .in_(wanted))):
            previous.setdefault((row.device_id, row.sequence), []).append(row.chain_sha256)
    out = {}
    for device, seq, prev_chain in links:
        faulty = any(f.device_id == device and f.first_sequence <= seq <= f.last_sequence
                     for f in faults)
        out[(device, seq)] = not faulty and (
            seq == 1 or previous.get((device, seq - 1)) == [prev_chain])
    return out



def guest_of(conn: Connection, stay_id: str, guest_id: str) -> dict[str, Any]:
    row = conn.execute(select(stay_guests).where(stay_guests.c.stay_id == stay_id,
                                                 stay_guests.c.guest_id == guest_id)).first()
    if row is None:
        raise NotFoundError("no such guest")
    return shown_guest(row._mapping)
