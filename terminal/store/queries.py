"""Reads for the page and the CLI, on reader connections (never the writer's).

The in-house list comes from the projection tables through two partial indexes, so it stays
fast however many stays the device has kept; `show` folds the stay's own events.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from terminal.domain.fold import apply, undoable
from terminal.domain.stays import VOIDED, Stay
from terminal.errors import StayNotFoundError
from terminal.store import event_chain


@dataclass(slots=True)
class InHouseGuest:
    guest_id: str
    role: str
    name: str | None
    document_type: str | None
    document_number: str | None


@dataclass(slots=True)
class StayRow:
    stay_id: str
    room: str | None
    status: str
    checked_in_at: str
    expected_check_out: str | None
    ended_at: str | None
    guest_count: int
    guests_in_house: int
    purged: bool
    undelivered: int = 0  # events not yet acknowledged (nor superseded)
    guests: list[InHouseGuest] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Delivery:
    event_id: str
    sequence: int
    kind: str
    state: str
    attempts: int
    receipt: str | None
    reject_code: str | None
    reject_field: str | None
    reject_message: str | None
    acknowledged_at: str | None = None


@dataclass(slots=True)
class StayDetail:
    stay: Stay
    delivery: list[Delivery]


@dataclass(frozen=True, slots=True)
class RecentCheckOut:
    """A check-out that can still be undone: who left (as the check-out named them), where."""

    event_id: str
    stay_id: str
    room: str
    names: tuple[str, ...]
    at: str  # UTC wall time of the check-out


def recent_check_outs(conn: sqlite3.Connection, boot_id: str, since_monotonic_ns: int,
                      *, limit: int = 20) -> list[RecentCheckOut]:
    """Check-outs of this boot at or after `since_monotonic_ns` whose guests are all still
    out by them (not undone, no void since), newest first."""
    rows = conn.execute(
        "SELECT event_id, stay_id, wall_time FROM events WHERE kind = 'check_out' "
        "AND boot_id = ? AND monotonic_ns >= ? ORDER BY seq_id DESC LIMIT ?",
        (boot_id, since_monotonic_ns, limit)).fetchall()
    out = []
    for event_id, stay_id, at in rows:
        stay = show(conn, stay_id).stay
        back = undoable(stay, event_id)
        if back and stay.status != VOIDED and not stay.purged:
            names = tuple(stay.guests[g].guest.display_name or "?" for g in back)
            out.append(RecentCheckOut(event_id, stay_id, stay.room or "—", names, at))
    return out


_STAY_COLUMNS = (
    "SELECT stay_id, room, status, checked_in_at, expected_check_out, ended_at, guest_count, "
    "guests_in_house, purged"
)


def _stay_row(row: tuple[Any, ...]) -> StayRow:
    return StayRow(*row[:8], purged=bool(row[8]))


def list_in_house(conn: sqlite3.Connection) -> list[StayRow]:
    # The undelivered count is a correlated subquery so that it walks events_stay once per
    # stay in house; as a join, SQLite scanned every event of the device.
    stays = {}
    for *row, undelivered in conn.execute(
        f"{_STAY_COLUMNS}, (SELECT COUNT(*) FROM events e JOIN outbox o USING (event_id) "
        "WHERE e.stay_id = stay_view.stay_id AND o.state NOT IN ('acknowledged', 'superseded')) "
        "FROM stay_view WHERE status = 'in_house' ORDER BY room, checked_in_at"
    ):
        stays[row[0]] = _stay_row(tuple(row))
        stays[row[0]].undelivered = undelivered
    for row in conn.execute(
        "SELECT g.stay_id, g.guest_id, g.role, g.name, g.document_type, g.document_number "
        "FROM stay_view s JOIN guest_view g ON g.stay_id = s.stay_id AND g.in_house = 1 "
        "WHERE s.status = 'in_house' ORDER BY g.role DESC, g.guest_id"
    ):
        stays[row[0]].guests.append(InHouseGuest(*row[1:]))
    return list(stays.values())


def list_stays(conn: sqlite3.Connection, *, limit: int = 100) -> list[StayRow]:
    """The newest stays, any status (UUIDv7 ids sort by creation: the primary key is the order).

    No personal data: the projection holds none for stays that are over.
    """
    return [_stay_row(r) for r in conn.execute(
        f"{_STAY_COLUMNS} FROM stay_view ORDER BY stay_id DESC LIMIT ?", (limit,))]


def show(conn: sqlite3.Connection, stay_id: str) -> StayDetail:
    stays: dict[str, Stay] = {}
    for event in event_chain.stay_events(conn, stay_id):
        apply(stays, event)
    if stay_id not in stays:
        raise StayNotFoundError(f"no stay {stay_id}", "找不到该入住记录")
    delivery = [Delivery(*row) for row in conn.execute(
        "SELECT e.event_id, e.sequence, e.kind, o.state, o.attempts, o.receipt, o.reject_code, "
        "o.reject_field, o.reject_message, o.acknowledged_at "
        "FROM events e JOIN outbox o USING (event_id) "
        "WHERE e.stay_id = ? ORDER BY e.seq_id", (stay_id,))]
    return StayDetail(stays[stay_id], delivery)


# Where a guest's name and document number are in an event's payload (check-in, companion
# added, an amended name). The projection forgets them at check-out, so a search of past stays
# reads the payloads (kept until retention purges them).
_SEARCH_KEYS = ("name", "surname_en", "given_names_en", "number", "new")


def _like(fragment: str) -> str:
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_stays(conn: sqlite3.Connection, *, text: str = "", since: str | None = None,
                 until: str | None = None, limit: int = 100) -> list[StayRow]:
    """Stays whose room, a guest's name or document number contains `text` (any fragment,
    Unicode as stored; Latin letters without regard to case), in house at some time in
    [since, until) (UTC texts as stored), newest first. Every value is a parameter."""
    where: list[str] = []
    args: list[Any] = []
    text = text.strip()
    if text:
        keys = ",".join("?" * len(_SEARCH_KEYS))
        where.append(
            "(s.room LIKE ? ESCAPE '\\' OR EXISTS (SELECT 1 FROM events e, json_tree(e.payload) t"
            " WHERE e.stay_id = s.stay_id AND e.payload IS NOT NULL"
            " AND e.kind IN ('check_in', 'add_guest', 'amend')"
            f" AND t.key IN ({keys}) AND t.atom LIKE ? ESCAPE '\\'))")
        args += [_like(text), *_SEARCH_KEYS, _like(text)]
    if until is not None:
        where.append("s.checked_in_at < ?")
        args.append(until)
    if since is not None:
        where.append("(s.ended_at IS NULL OR s.ended_at >= ?)")
        args.append(since)
    sql = f"{_STAY_COLUMNS} FROM stay_view s"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [_stay_row(r) for r in conn.execute(
        f"{sql} ORDER BY s.stay_id DESC LIMIT ?", (*args, limit))]


def stay_guests(conn: sqlite3.Connection, stay_ids: list[str]
                ) -> dict[str, list[tuple[str, str | None]]]:
    """Each stay's guests as (name, document number), from its folded events: amended names
    included, nothing for a purged stay."""
    out: dict[str, list[tuple[str, str | None]]] = {}
    for stay_id in stay_ids:
        stays: dict[str, Stay] = {}
        for event in event_chain.stay_events(conn, stay_id):
            apply(stays, event)
        stay = stays.get(stay_id)
        out[stay_id] = [] if stay is None else [
            (g.guest.display_name, g.guest.document.number) for g in stay.guests.values()]
    return out


def count_stays(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT COUNT(*) FROM stay_view").fetchone()[0]


def device_ids(conn: sqlite3.Connection) -> set[str]:
    """Every device whose events this store holds (one, unless something went wrong)."""
    return {r[0] for r in conn.execute("SELECT DISTINCT device_id FROM events")}
