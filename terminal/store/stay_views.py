"""The projection tables (stay_view, guest_view): derived from the fold, written with the events.

`rows_for(stay)` is the single definition of what the projection holds for a stay; the writer
uses it after each event and the verifier compares the tables with it for every folded stay.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from terminal.domain.stays import Stay

STAY_COLUMNS = ("stay_id", "room", "status", "checked_in_at", "expected_check_out", "ended_at",
                "operator", "guest_count", "guests_in_house", "purged")
GUEST_COLUMNS = ("guest_id", "stay_id", "role", "in_house", "name", "document_type",
                 "document_number")
_WRITE_STAY = (f"INSERT OR REPLACE INTO stay_view ({', '.join(STAY_COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(STAY_COLUMNS))})")
_WRITE_GUEST = (f"INSERT OR REPLACE INTO guest_view ({', '.join(GUEST_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(GUEST_COLUMNS))})")


def rows_for(stay: Stay) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    stay_row = (
        stay.stay_id, stay.room, stay.status, stay.checked_in_at,
        stay.expected_check_out.isoformat() if stay.expected_check_out else None,
        stay.ended_at, stay.operator, len(stay.guests),
        len(stay.guests_in_house()) if stay.status == "in_house" else 0, int(stay.purged),
    )
    guest_rows = []
    for guest_id, guest_stay in stay.guests.items():
        here = stay.status == "in_house" and guest_stay.in_house
        guest = guest_stay.guest
        guest_rows.append((
            guest_id, stay.stay_id, guest.role, int(here),
            guest.display_name if here else None,
            guest.document.type_code,
            guest.document.key()[1] if here else None,
        ))
    return stay_row, sorted(guest_rows)


def write(conn: sqlite3.Connection, stay: Stay) -> None:
    stay_row, guest_rows = rows_for(stay)
    conn.execute(_WRITE_STAY, stay_row)
    if stay.purged:
        return  # a purged stay has no guests in the fold; keep the (already anonymous) rows
    conn.executemany(_WRITE_GUEST, guest_rows)


def read(conn: sqlite3.Connection, stay_id: str) -> tuple[Any, list[Any]]:
    stay_row = conn.execute(
        f"SELECT {', '.join(STAY_COLUMNS)} FROM stay_view WHERE stay_id = ?", (stay_id,)
    ).fetchone()
    guest_rows = conn.execute(
        f"SELECT {', '.join(GUEST_COLUMNS)} FROM guest_view WHERE stay_id = ? ORDER BY guest_id",
        (stay_id,),
    ).fetchall()
    return (tuple(stay_row) if stay_row else None), [tuple(r) for r in guest_rows]


def in_house_in_room(conn: sqlite3.Connection, room: str) -> list[str]:
    """Ids of the stays in house in a room, oldest check-in first."""
    return [r[0] for r in conn.execute(
        "SELECT stay_id FROM stay_view WHERE status = 'in_house' AND room = ? "
        "ORDER BY checked_in_at", (room,))]


def guests_in_house_in_room(conn: sqlite3.Connection, room: str) -> int:
    row = conn.execute(
        "SELECT COALESCE(SUM(guests_in_house), 0) FROM stay_view "
        "WHERE status = 'in_house' AND room = ?", (room,)).fetchone()
    return int(row[0])


def room_holding_document(conn: sqlite3.Connection, document_type: str,
                          document_number: str) -> str | None:
    """The room of a guest in house with this document, if any."""
    row = conn.execute(
        "SELECT s.room FROM guest_view g JOIN stay_view s USING (stay_id) "
        "WHERE g.in_house = 1 AND g.document_type = ? AND g.document_number = ? LIMIT 1",
        (document_type, document_number)).fetchone()
    return row[0] if row else None
