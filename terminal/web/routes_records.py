"""In house (check-out per guest, per room, a group) and records (delivery, amend, void).

Lists show ID numbers masked; a stay's detail shows the name and masked number, enough for the
clerk to recognise the guest. Every write goes through the registry and answers after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response

from terminal.errors import AnjuError
from terminal.web.page import Page, read_form, redirect
from terminal.web.views import delivery_by_stay, local_day, local_time, masked

AMENDABLE = ("room", "expected_check_out")
GUEST_AMENDABLE = ("phone", "address", "name")


def _err(page: Page, request: Request, err: AnjuError) -> str:
    return page.error_text(request, err)


async def _write(page: Page, request: Request, work: Callable[[str], Any]) -> str | None:
    """Run a registry write off the event loop; the error in the clerk's words, or None."""
    operator = page.operator(request)
    _ = page.gettext(request)
    if operator is None:
        return _("Sign in first.")
    try:
        await anyio.to_thread.run_sync(lambda: work(operator))
    except AnjuError as err:
        return _err(page, request, err)
    page.service.hub.publish("status", backlog=True)
    return None


async def in_house(request: Request, *, message: str = "", error: str = "") -> Response:
    page: Page = request.app.state.page
    stays = await anyio.to_thread.run_sync(page.service.registry.list_in_house)
    rows = [{"stay": s, "since": local_time(s.checked_in_at, page.zone),
             "guests": [{"guest_id": g.guest_id, "role": g.role, "name": g.name or "",
                         "number": masked(g.document_number)} for g in s.guests]}
            for s in stays]
    return page.render(request, "inhouse.html", rows=rows, message=message, error=error)


async def check_out_guest(request: Request) -> Response:
    page: Page = request.app.state.page
    form = await read_form(request)
    stay_id, guest_id = form.get("out_stay"), form.get("out_guest")
    error = await _write(page, request, lambda op: page.service.registry.check_out(
        stay_id, operator=op, guest_ids=[guest_id] if guest_id else None))
    _ = page.gettext(request)
    return await in_house(request, message="" if error else _("Checked out."),
                          error=error or "")


async def check_out_room(request: Request) -> Response:
    page: Page = request.app.state.page
    form = await read_form(request)
    room = form.get("out_room")
    error = await _write(page, request, lambda op: page.service.registry.check_out_room(
        room, operator=op))
    _ = page.gettext(request)
    return await in_house(request, message="" if error else _("Room {room} checked out.").format(
        room=room), error=error or "")


async def check_out_group(request: Request) -> Response:
    page: Page = request.app.state.page
    form = await read_form(request)
    stay_ids = form.all("stay_id")
    _ = page.gettext(request)
    if not stay_ids:
        return await in_house(request, error=_("Tick the rooms of the group first."))
    error = await _write(page, request, lambda op: page.service.registry.check_out_stays(
        stay_ids, operator=op))
    return await in_house(request, message="" if error else _("{n} rooms checked out.").format(
        n=len(stay_ids)), error=error or "")


async def history(request: Request) -> Response:
    page: Page = request.app.state.page

    def load() -> tuple[list[Any], dict[str, Any]]:
        stays = page.service.registry.list_stays(limit=100)
        with page.service.store.reader() as conn:
            return stays, delivery_by_stay(conn, [s.stay_id for s in stays])

    stays, delivery = await anyio.to_thread.run_sync(load)
    today_only = request.query_params.get("day") == "today"
    today = page.today().isoformat()
    rows = [{"stay": s, "at": local_time(s.checked_in_at, page.zone),
             "delivery": delivery.get(s.stay_id)} for s in stays
            if not today_only or local_day(s.checked_in_at, page.zone) == today]
    return page.render(request, "history.html", rows=rows, today_only=today_only)


async def stay_detail(request: Request, *, message: str = "", error: str = "") -> Response:
    page: Page = request.app.state.page
    stay_id = request.path_params["stay_id"]
    try:
        detail = await anyio.to_thread.run_sync(lambda: page.service.registry.show(stay_id))
    except AnjuError as err:
        return page.render(request, "stay.html", detail=None, error=_err(page, request, err))
    stay = detail.stay
    guests = [{"guest_id": gid, "name": g.guest.display_name, "role": g.guest.role,
               "number": masked(g.guest.document.number), "in_house": g.in_house,
               "phone": g.guest.phone or "", "address": g.guest.address or ""}
              for gid, g in stay.guests.items()]
    _ = page.gettext(request)
    labels = {"room": _("Room"), "expected_check_out": _("Expected check-out"),
              "phone": _("Phone"), "address": _("Address"), "name": _("Name")}
    fields = [(f, labels[f]) for f in AMENDABLE] + [
        (f"guest.{g['guest_id']}.{f}", f"{g['name']} · {labels[f]}") for g in guests
        for f in GUEST_AMENDABLE]
    kinds = {"check_in": _("Check-in"), "add_guest": _("Companion added"),
             "check_out": _("Check-out"), "amend": _("Correction"), "void": _("Void")}
    return page.render(request, "stay.html", detail=detail, stay=stay, guests=guests,
                       kinds=kinds,
                       fields=fields, at=local_time(stay.checked_in_at, page.zone),
                       message=message, error=error)


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
    field, new, reason = form.get("field"), form.get("new"), form.get("reason")
    _ = page.gettext(request)

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


async def void(request: Request) -> Response:
    page: Page = request.app.state.page
    stay_id = request.path_params["stay_id"]
    form = await read_form(request)
    reason = form.get("reason")
    _ = page.gettext(request)
    error = await _write(page, request, lambda op: page.service.registry.void(
        stay_id, reason=reason, operator=op))
    return await stay_detail(request, message="" if error else _("Registration voided."),
                             error=error or "")


async def go_home(request: Request) -> Response:
    return redirect(request, "/")
