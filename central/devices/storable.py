"""Can this event be stored and folded, identically on SQLite and PostgreSQL? Checked per event
on ingest, after the schema and the payload hash, before anything is written.

A batch is one transaction: a value the database refuses (PostgreSQL: a NUL in text, a string
longer than its column) or that the fold cannot use (a room that is an object) would fail the
whole batch, and the uploader would resend it for ever. So each such event is `rejected` with
its reason here, and the rest of the batch is stored:

    invalid_text  a key or string of the payload holds a control character or a lone surrogate
                  (the text rule of sync/fields.py, the same the terminal applies at entry)
    too_deep      the payload nests deeper than MAX_JSON_DEPTH
    wrong_type    a value the fold reads (central/stays/state.py) has the wrong JSON type
    too_long      a value the fold stores is longer than its column

Only the keys the fold reads are typed here; everything else in the payload is kept as sent.
"""

from __future__ import annotations

from typing import Any

from sync.errors import InvalidEventError
from sync.fields import MAX_JSON_DEPTH, json_problem
from sync.protocol import WireEvent

ROOM_MAX = 64  # stays.room
GUEST_ID_MAX = 36  # stay_guests.guest_id
_GUEST_TEXT = ("role", "name", "surname_en", "given_names_en", "nationality")
_DOCUMENT_TEXT = ("type_code", "number")


def check(event: WireEvent, data: dict[str, Any] | None) -> None:
    """Raise InvalidEventError (code, field inside the event) when `event` cannot be stored;
    `data` is the "data" of `event.payload` parsed (None when withheld: the header was checked
    already)."""
    if data is None:
        return
    problem = None if _plain(event.payload) else json_problem(data)
    if problem is not None:
        path, why = problem
        code = "too_deep" if why.startswith("nested") else "invalid_text"
        raise _fail(f"payload.data.{path}".rstrip("."), why, code)
    if event.kind == "check_in":
        _room(data.get("room"), "room")
        for index, guest in enumerate(_list(data, "guests")):
            if not _plain_guest(guest):  # else the checks below name what is wrong
                _guest(guest, f"guests[{index}]")
    elif event.kind == "add_guest":
        _guest(data.get("guest"), "guest")
    elif event.kind in ("check_out", "check_out_undone"):
        for index, guest_id in enumerate(_list(data, "guest_ids")):
            _text(guest_id, f"guest_ids[{index}]", GUEST_ID_MAX, required=True)
    elif event.kind == "amend":
        field = data.get("field")
        _text(field, "field", None, required=True)
        if field == "room":
            _room(data.get("new"), "new")
        elif isinstance(field, str) and field.startswith("guest."):
            _text(data.get("new"), "new", None)


def _plain(payload: str | None) -> bool:
    """True when no key or string parsed from this JSON text can break the text rule, nor any
    value nest deeper than MAX_JSON_DEPTH, so json_problem would find nothing (it walks every
    value: a third of the checks' time). A parsed string holds a refused character only if the
    text holds it (none is printable) or an escape makes it (none without a backslash); and
    a value nested n deep in "data" needs n + 2 opening brackets in the text."""
    return (payload is not None and "\\" not in payload
            and payload.count("{") + payload.count("[") <= MAX_JSON_DEPTH + 1
            and payload.isprintable())


def _fail(field: str, why: str, code: str) -> InvalidEventError:
    return InvalidEventError(f"{field} {why}", code=code, field=field)


def _list(data: dict[str, Any], name: str) -> list[Any]:
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _fail(f"payload.data.{name}", "must be a list", "wrong_type")
    return value


def _room(value: Any, name: str) -> None:
    _text(value, name, ROOM_MAX)


def _text(value: Any, name: str, max_len: int | None, *, required: bool = False) -> None:
    if _fits(value, max_len, required=required):
        return
    field = f"payload.data.{name}"
    if value is None and not required:
        return
    if not isinstance(value, str):
        raise _fail(field, "must be a string" + ("" if required else " or null"), "wrong_type")
    if max_len is not None and len(value) > max_len:
        raise _fail(field, f"is {len(value)} characters, at most {max_len} are stored", "too_long")


def _fits(value: Any, max_len: int | None = None, *, required: bool = False) -> bool:
    """What _text accepts, without building its field names (a guest has eight)."""
    if value is None:
        return not required
    return isinstance(value, str) and (max_len is None or len(value) <= max_len)


def _plain_guest(guest: Any) -> bool:
    """True when _guest would accept `guest` (the same tests; _guest names the first failure)."""
    if not isinstance(guest, dict) or not _fits(guest.get("guest_id"), GUEST_ID_MAX,
                                                 required=True):
        return False
    if not all(_fits(guest.get(key)) for key in _GUEST_TEXT):
        return False
    document = guest.get("document")
    return document is None or (isinstance(document, dict)
                                and all(_fits(document.get(key)) for key in _DOCUMENT_TEXT))


def _guest(guest: Any, where: str) -> None:
    if not isinstance(guest, dict):
        raise _fail(f"payload.data.{where}", "must be an object", "wrong_type")
    _text(guest.get("guest_id"), f"{where}.guest_id", GUEST_ID_MAX, required=True)
    for key in _GUEST_TEXT:
        _text(guest.get(key), f"{where}.{key}", None)
    document = guest.get("document")
    if document is None:
        return
    if not isinstance(document, dict):
        raise _fail(f"payload.data.{where}.document", "must be an object or null", "wrong_type")
    for key in _DOCUMENT_TEXT:
        _text(document.get(key), f"{where}.document.{key}", None)
