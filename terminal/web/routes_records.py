"""In house (check-out per guest, per room, a group) and records (delivery, amend, void).

Lists show ID numbers masked; a stay's detail shows the name and masked number, enough for the
clerk to recognise the guest. Every write goes through the registry and answers after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import anyio
from starlette.requests import Request
from starlette.responses import Response

from sync.fields import format_utc
from terminal.errors import TerminalError
from terminal.store import queries
from terminal.web.page import Page, read_form, redirect
from terminal.web.views import delivery_by_stay, local_time, masked

AMENDABLE = ("room", "expected_check_out")
GUEST_AMENDABLE = ("phone", "address", "name")
# The on-screen keypad each field is typed on (app.js): letters and digits for a room (A301),
# the date with its dashes added, digits for a phone; text fields start on letters and digits.
KEYPAD = {"room": "alnum", "expected_check_out": "date", "phone": "digits",
          "address": "alnum", "name": "alnum"}


def _err(page: Page, request: Request, err: TerminalError) -> str:
    return page.error_text(request, err)


async def _write(page: Page, request: Request, work: Callable[[str], Any]) -> str | None:
    """Run a registry write off the event loop; the error in the clerk's words, or None."""
    operator = page.operator(request)
    _ = page.gettext(request)
    if operator is None:
        return _("Sign in first.")
    try:
        await anyio.to_thread.run_sync(lambda: work(operator))
    except TerminalError as err:
        return _err(page, request, err)
    page.service.hub.publish("status", backlog=True)
    return None


def _undo_window_s(page: Page) -> float:
    return float(page.config["web.undo_check_out_minutes"]) * 60


async def in_house(request: Request, *, message: str = "", error: str = "",
                   pending: dict[str, Any] | None = None, ticked: tuple[str, ...] = ()
                   ) -> Response:
    page: Page = request.app.state.page
    stays = await anyio.to_thread.run_sync(page.service.registry.list_in_house)
    window = _undo_window_s(page)
    recent = (await anyio.to_thread.run_sync(page.service.registry.recent_check_outs, window)
              if window > 0 else [])
    rows = [{"stay": s, "since": local_time(s.checked_in_at, page.zone),
             "guests": [{"guest_id": g.guest_id, "role": g.role, "name": g.name or "",
                         "number": masked(g.document_number)} for g in s.guests]}
            for s in stays]
    undo = [{"event_id": r.event_id, "room": r.room, "names": "、".join(r.names),
             "at": local_time(r.at, page.zone)} for r in recent]
    return page.render(request, "inhouse.html", rows=rows, message=message, error=error,
                       pending=pending, ticked=ticked, undo=undo,
                       undo_minutes=page.config["web.undo_check_out_minutes"],
                       guest_total=sum(len(r["guests"]) for r in rows),
                       room_total=len({s.room for s in stays}))


def _names(stays: list[Any], stay_ids: list[str], guest_id: str | None = None
           ) -> tuple[str, str]:
    """Who and which room(s) a check-out concerns, in the clerk's words (never a number)."""
    chosen = [s for s in stays if s.stay_id in stay_ids]
    names = [g.name or "?" for s in chosen for g in s.guests
             if guest_id is None or g.guest_id == guest_id]
    return "、".join(names), "、".join(sorted({s.room or "—" for s in chosen}))


async def _check_out(request: Request, what: str) -> Response:
    """Check out a guest, a room or the ticked rooms: first a confirmation naming the guests
    and the room, then (confirmed=yes) the write and a message saying who and which room."""
    page: Page = request.app.state.page
    form = await read_form(request)
    _ = page.gettext(request)
    stays = await anyio.to_thread.run_sync(page.service.registry.list_in_house)
    guest_id = form.get("out_guest") or None
    if what == "room":
        stay_ids = [s.stay_id for s in stays if s.room == form.get("out_room")]
    elif what == "guest":
        stay_ids = [form.get("out_stay")]
    else:
        stay_ids = form.all("stay_id")
        if not stay_ids:
            return await in_house(request, error=_("Tick the rooms of the group first."))
    names, rooms = _names(stays, stay_ids, guest_id)
    if not names:
        return await in_house(request, error=_("Already checked out."))
    if form.get("confirmed") != "yes":
        vals = {"out_stay": form.get("out_stay"), "out_guest": form.get("out_guest"),
                "out_room": form.get("out_room"), "confirmed": "yes"}
        return await in_house(request, ticked=tuple(stay_ids), pending={
            "what": what, "vals": vals,
            "text": _("Check out {names} (room {room})?").format(names=names, room=rooms)})
    registry = page.service.registry
    if what == "room":
        error = await _write(page, request, lambda op: registry.check_out_room(
            form.get("out_room"), operator=op))
    elif what == "guest":
        error = await _write(page, request, lambda op: registry.check_out(
            stay_ids[0], operator=op, guest_ids=[guest_id] if guest_id else None))
    else:
        error = await _write(page, request, lambda op: registry.check_out_stays(
            stay_ids, operator=op))
    message = "" if error else _("{names} checked out of room {room}.").format(
        names=names, room=rooms)
    return await in_house(request, message=message, error=error or "")


async def undo_check_out(request: Request) -> Response:
    """Take back a check-out of the last few minutes: first a confirmation naming the guests
    and the room, then (confirmed=yes) a `check_out_undone` event; the room is in house again."""
    page: Page = request.app.state.page
    form = await read_form(request)
    _ = page.gettext(request)
    event_id = form.get("out_event")
    window = _undo_window_s(page)
    recent = await anyio.to_thread.run_sync(page.service.registry.recent_check_outs, window)
    chosen = next((r for r in recent if r.event_id == event_id), None)
    if chosen is None or window <= 0:
        return await in_house(request, error=_("This check-out can no longer be undone."))
    names, room = "、".join(chosen.names), chosen.room
    if form.get("confirmed") != "yes":
        return await in_house(request, pending={
            "what": "undo", "vals": {"out_event": event_id, "confirmed": "yes"},
            "text": _("Undo the check-out of {names} (room {room})? They will be in house "
                      "again.").format(names=names, room=room)})
    error = await _write(page, request, lambda op: page.service.registry.undo_check_out(
        event_id, operator=op, within_s=window))
    message = "" if error else _("Check-out undone: {names} in room {room} again.").format(
        names=names, room=room)
    return await in_house(request, message=message, error=error or "")


async def check_out_guest(request: Request) -> Response:
    return await _check_out(request, "guest")


async def check_out_room(request: Request) -> Response:
    return await _check_out(request, "room")


async def check_out_group(request: Request) -> Response:
    return await _check_out(request, "group")


def _day_bounds(day: str, zone: ZoneInfo) -> tuple[str, str] | None:
    """The guesthouse's calendar day as UTC texts in the store's format, [start, end)."""
    try:
        start = datetime.combine(date.fromisoformat(day), time(), zone)
    except ValueError:
        return None
    return tuple(  # type: ignore[return-value]
        format_utc(start + timedelta(days=n))
        for n in (0, 1))


async def history(request: Request) -> Response:
    """Records: the newest stays, or those matching a name, room or document number fragment
    and/or in house on a day; each row names its guests (numbers masked)."""
    page: Page = request.app.state.page
    params = request.query_params
    text = params.get("q", "").strip()[:40]
    day = params.get("day", "").strip()
    today_only = day == "today"
    if today_only:
        day = page.today().isoformat()
    bounds = _day_bounds(day, page.zone) if day else None
    _ = page.gettext(request)
    error = _("Date: write it as 2026-12-06.") if day and bounds is None else ""

    def load() -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
        with page.service.store.reader() as conn:
            stays = queries.search_stays(conn, text=text, since=bounds and bounds[0],
                                         until=bounds and bounds[1], limit=100)
            ids = [s.stay_id for s in stays]
            return stays, delivery_by_stay(conn, ids), queries.stay_guests(conn, ids)

    stays, delivery, guests = await anyio.to_thread.run_sync(load)
    rows = [{"stay": s, "at": local_time(s.checked_in_at, page.zone),
             "delivery": delivery.get(s.stay_id),
             "acked": local_time(getattr(delivery.get(s.stay_id), "acknowledged_at", None),
                                 page.zone),
             "guests": [(name, masked(number)) for name, number in guests[s.stay_id]]}
            for s in stays]
    return page.render(request, "history.html", rows=rows, today_only=today_only, q=text,
                       day="" if today_only else day, error=error,
                       searched=bool(text or day))


async def stay_detail(request: Request, *, message: str = "", error: str = "",
                      pending: dict[str, str] | None = None) -> Response:
    page: Page = request.app.state.page
    stay_id = request.path_params["stay_id"]
    try:
        detail = await anyio.to_thread.run_sync(lambda: page.service.registry.show(stay_id))
    except TerminalError as err:
        return page.render(request, "stay.html", detail=None, error=_err(page, request, err))
    stay = detail.stay
    guests = [{"guest_id": gid, "name": g.guest.display_name, "role": g.guest.role,
               "number": masked(g.guest.document.number), "in_house": g.in_house,
               "phone": g.guest.phone or "", "address": g.guest.address or ""}
              for gid, g in stay.guests.items()]
    _ = page.gettext(request)
    labels = {"room": _("Room"), "expected_check_out": _("Expected check-out"),
              "phone": _("Phone"), "address": _("Address"), "name": _("Name")}
    fields = [{"field": f, "label": labels[f], "kp": KEYPAD[f], "current": _shown_raw(stay, f)}
              for f in AMENDABLE] + [
        {"field": f"guest.{g['guest_id']}.{f}", "label": f"{g['name']} · {labels[f]}",
         "kp": KEYPAD[f], "current": _shown_raw(stay, f"guest.{g['guest_id']}.{f}")}
        for g in guests for f in GUEST_AMENDABLE]
    names = {f["field"]: f["label"] for f in fields}
    amends = {a.event_id: {"label": names.get(a.field, a.field), "old": _shown(a.old),
                           "new": _shown(a.new), "reason": a.reason} for a in stay.amendments}
    acked = {d.event_id: local_time(d.acknowledged_at, page.zone) for d in detail.delivery}
    kinds = {"check_in": _("Check-in"), "add_guest": _("Companion added"),
             "check_out": _("Check-out"), "amend": _("Correction"), "void": _("Void"),
             "check_out_undone": _("Check-out undone")}
    return page.render(request, "stay.html", detail=detail, stay=stay, guests=guests,
                       kinds=kinds, amends=amends, acked=acked,
                       fields=fields, at=local_time(stay.checked_in_at, page.zone),
                       message=message, error=error, pending=pending,
                       void_presets=void_presets(_), amend_presets=amend_presets(_))


def _shown_raw(stay: Any, field: str) -> str:
    """The field's current value as the clerk edits it ("" when empty or unreadable)."""
    try:
        value = _current(stay, field)
    except (KeyError, ValueError):
        return ""
    return "" if value is None else str(value)


def amend_presets(_: Callable[[str], str]) -> list[str]:
    """The common reasons to correct, one tap each (free text stays possible)."""
    return [_("Typing error"), _("Guest changed rooms"), _("Guest extended the stay"),
            _("Phone number added")]


def _shown(value: Any) -> str:
    return "—" if value in (None, "") else str(value)


def _current(stay: Any, field: str) -> Any:
    if field == "room":
        return stay.room
    if field == "expected_check_out":
        return stay.expected_check_out.isoformat() if stay.expected_check_out else None
    _, gid, name = field.split(".", 2)
    return stay.guests[gid].guest.to_json().get(name)


async def amend(request: Request) -> Response:
    page: Page = request.app.state.page
    stay_id = request.path_params["stay_id"]
    form = await read_form(request)
    field, new, reason = form.get("field"), form.get("new").strip(), form.get("reason")
    _ = page.gettext(request)
    if field == "expected_check_out" and new:
        try:
            date.fromisoformat(new)
        except ValueError:  # the page's own words, never a stack trace
            return await stay_detail(request, error=_(
                "Expected check-out: write it as 2026-12-06."))

    def work(op: str) -> Any:
        stay = page.service.registry.show(stay_id).stay
        try:
            old = _current(stay, field)
        except (KeyError, ValueError):
            old = None
        return page.service.registry.amend(stay_id, field=field, old=old, new=new or None,
                                           reason=reason, operator=op)

    error = await _write(page, request, work)
    return await stay_detail(request, message="" if error else _("Correction saved."),
                             error=error or "")


def void_presets(_: Callable[[str], str]) -> list[str]:
    """The common reasons to void, one tap each (free text stays possible)."""
    return [_("Guest cancelled"), _("Registered twice"), _("Wrong guest or document")]


async def void(request: Request) -> Response:
    """Void a registration: first a confirmation naming the guests and the room, then
    (confirmed=yes) the write and a message saying whose registration in which room."""
    page: Page = request.app.state.page
    stay_id = request.path_params["stay_id"]
    form = await read_form(request)
    reason = form.get("reason")
    _ = page.gettext(request)
    try:
        stay = (await anyio.to_thread.run_sync(lambda: page.service.registry.show(stay_id))).stay
    except TerminalError as err:
        return await stay_detail(request, error=_err(page, request, err))
    names = "、".join(g.guest.display_name or "?" for g in stay.guests.values())
    room = stay.room or "—"
    if reason.strip() and form.get("confirmed") != "yes":
        return await stay_detail(request, pending={
            "reason": reason,
            "text": _("Void the registration of {names} (room {room})?").format(
                names=names, room=room)})
    error = await _write(page, request, lambda op: page.service.registry.void(
        stay_id, reason=reason, operator=op))
    message = "" if error else _("Registration of {names} (room {room}) voided.").format(
        names=names, room=room)
    return await stay_detail(request, message=message, error=error or "")


async def go_home(request: Request) -> Response:
    return redirect(request, "/")
