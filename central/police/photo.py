"""The card photo of each guest of a stay, as the terminal sent it: WLT bytes, still encoded.

Terminals carry a card's 1024-byte WLT photo in the event payload, inside the guest's document
(`data.guests[].document.card.photo_wlt_b64` of a check-in, `data.guest.document...` of an
added companion). A guest's photo is taken from the *latest* event of the stay carrying that
guest's document ((device, sequence) order, as the projection folds), so a typed-in document
there means no photo. Withheld events (purged payloads) carry nothing. A value that is not
base64 is kept as empty bytes: it is a card photo that cannot be decoded, not a missing one.
Amendments never touch the card evidence, so they are not looked at.

Generic on the payload JSON, like central/stays/state.py: the server does not import the
terminal's domain.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from sqlalchemy import Connection, select

from central.accounts.principals import Principal
from central.db.tables import events, stays
from central.errors import NotFoundError
from central.police.search import scope_ok

CARRIERS = ("check_in", "add_guest")


def card_photos(conn: Connection, stay_id: str) -> dict[str, bytes]:
    """guest_id -> WLT bytes, for the guests whose latest document came from a card."""
    owner = select(stays.c.device_id).where(stays.c.stay_id == stay_id).scalar_subquery()
    rows = conn.execute(select(events.c.kind, events.c.payload)
                        .where(events.c.stay_id == stay_id, events.c.device_id == owner,
                               events.c.kind.in_(CARRIERS), events.c.payload.is_not(None))
                        .order_by(events.c.sequence)).all()
    latest: dict[str, bytes | None] = {}
    for row in rows:
        data = _data(row.payload)
        carried = data.get("guests") if row.kind == "check_in" else [data.get("guest")]
        for guest in carried if isinstance(carried, list) else []:
            if isinstance(guest, dict) and isinstance(guest.get("guest_id"), str) \
                    and isinstance(guest.get("document"), dict):
                latest[guest["guest_id"]] = _wlt(guest["document"])
    return {guest_id: wlt for guest_id, wlt in latest.items() if wlt is not None}


def card_photo(conn: Connection, stay_id: str, guest_id: str, who: Principal) -> bytes:
    """One guest's WLT bytes; NotFound when the stay is outside `who`'s district (as the stay
    page answers) or the guest has no card photo."""
    site_code = conn.execute(select(stays.c.site_code)
                             .where(stays.c.stay_id == stay_id)).scalar_one_or_none()
    if site_code is None or not scope_ok(conn, who, site_code):
        raise NotFoundError("no such stay")
    wlt = card_photos(conn, stay_id).get(guest_id)
    if wlt is None:
        raise NotFoundError("no card photo for this guest")
    return wlt


def _wlt(document: dict[str, Any]) -> bytes | None:
    card = document.get("card")
    encoded = card.get("photo_wlt_b64") if isinstance(card, dict) else None
    if not isinstance(encoded, str) or not encoded:
        return None
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return b""


def _data(payload: str) -> dict[str, Any]:
    try:
        data = json.loads(payload).get("data")
    except (ValueError, AttributeError):
        return {}
    return data if isinstance(data, dict) else {}
