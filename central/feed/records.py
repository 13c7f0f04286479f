"""A feed record: the change (an event as the stay page shows it) and the stay's state after
it (every field the stay page shows, guests included), as one JSON object.

The state is folded by central/stays/state.py's own `fold`, from the stay's events stored up to
and including this one, so a record says what the server knew right after storing its event,
and never changes afterwards. Stored without its cursor: serving prepends it to the text.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Mapping, Sequence
from typing import Any

from central.police.record import payload_data
from central.stays.state import fold

STAY_KEYS = (
    "stay_id",
    "site_code",
    "device_id",
    "room",
    "status",
    "complete",
    "checked_in_at",
    "checked_out_at",
    "voided_at",
    "time_corrected",
)
GUEST_KEYS = (
    "guest_id",
    "role",
    "name",
    "document_type",
    "document_number",
    "nationality",
    "checked_in_at",
    "checked_out_at",
)
EVENT_KEYS = (
    "event_id",
    "kind",
    "device_id",
    "sequence",
    "operator",
    "target_event_id",
    "wall_time",
    "clock_synchronised",
    "corrected_time",
    "time_source",
    "received_at",
    "withheld",
)
SNAPSHOT = "snapshot"
_SHOWN_KEYS = ("field", "old", "new", "reason", "room", "guest_ids")  # as central/police/stay.py


# json.dumps with these options builds a new encoder each call; one encoder, the same text.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(record: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> str:
    """Compact JSON text, as feed_log.record holds it (central/feed/log.py)."""
    return _ENCODER.encode(record)


def stay_state(
    stay: Mapping[str, Any], guests: Sequence[Mapping[str, Any]], site_name: str | None
) -> dict[str, Any]:
    # dict(zip(keys, map(get, keys))): the same dicts as comprehensions, in half the time
    # (a record per stored event: issue 19)
    shown = []
    for g in guests:
        one = dict(zip(GUEST_KEYS, map(g.get, GUEST_KEYS), strict=True))
        one["name"] = g.get("full_name") or g.get("name")
        shown.append(one)
    if len(shown) > 1:
        shown.sort(key=lambda g: (g["role"] != "main", g["checked_in_at"] or "", g["guest_id"]))
    state = dict(zip(STAY_KEYS, map(stay.get, STAY_KEYS), strict=True))
    state["site_name"], state["guests"] = site_name, shown
    return state


def for_event(
    event: Any,
    stay_events: Sequence[Any],
    site_name: str | None,
    now: str,
    state: tuple[dict[str, Any], list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The record of `event`, the stay folded from `stay_events` (up to it, sequence order);
    `state`: that fold when the caller has it already (the projection's, for a stay's last
    event of a batch)."""
    stay, guests = state if state is not None else fold(event.stay_id, stay_events, now)
    return {
        "change": event.kind,
        "event": shown_event(event),
        "stay": stay_state(stay, guests, site_name),
    }


def snapshot(
    stay: Mapping[str, Any], guests: Sequence[Mapping[str, Any]], site_name: str | None
) -> dict[str, Any]:
    """A stay as it stood when the feed began (databases upgraded to revision 0011)."""
    return {"change": SNAPSHOT, "event": None, "stay": stay_state(stay, guests, site_name)}


def shown_event(row: Any) -> dict[str, Any]:
    data = payload_data(row.payload)  # withheld (purged): the header still counts
    shown = dict(zip(EVENT_KEYS, _event_values(row), strict=True))
    shown["detail"] = {k: data[k] for k in _SHOWN_KEYS if k in data}
    return shown


_event_values = operator.attrgetter(*EVENT_KEYS)

