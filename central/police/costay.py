"""Co-stay: who else was in the same room of the same site while a given guest was there.

The guest's period is [checked in, checked out or now); another stay overlaps when it began
before that period ended and had not ended before it began. Voided stays are left out (they
were registrations made in error). The guest's own companions in the same stay are included:
they shared the room too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, or_, select

from central.accounts.principals import Principal
from central.db.tables import stays
from central.police.query_deadline import bounded
from central.police.search import attach_guests, district_filter
from central.police.stay import guest_of, load

OPEN_END = "9999-12-31T23:59:59.999999Z"
MAX_STAYS = 200


def co_stays(conn: Connection, stay_id: str, guest_id: str, who: Principal,
             timeout_s: float) -> dict[str, Any]:
    """{"guest", "stay", "others": [stays with guests, excluding the guest]}."""
    with bounded(conn, timeout_s):
        stay = load(conn, stay_id, who)
        guest = guest_of(conn, stay_id, guest_id)
        start = guest["checked_in_at"] or stay["checked_in_at"]
        end = guest["checked_out_at"] or stay["checked_out_at"] or OPEN_END
        others: list[dict[str, Any]] = []
        if start and stay["room"] is not None:
            query = (select(stays).where(
                stays.c.site_code == stay["site_code"], stays.c.room == stay["room"],
                stays.c.status != "voided", stays.c.checked_in_at < end,
                or_(stays.c.checked_out_at.is_(None), stays.c.checked_out_at > start))
                .order_by(stays.c.checked_in_at.desc()).limit(MAX_STAYS))
            others = [dict(r._mapping) for r in conn.execute(district_filter(query, who))]
            attach_guests(conn, others)
            for other in others:
                other["guests"] = [g for g in other["guests"] if g["guest_id"] != guest_id]
            others = [o for o in others if o["guests"]]
    stay.pop("events", None)
    return {"guest": guest, "stay": stay, "others": others}
