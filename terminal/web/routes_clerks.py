"""Clerk accounts on the page (the owner only): add, disable, enable, reset a PIN.

Every change needs the owner's own PIN again, through the sign-in throttle with the owner's
account counter, so a session left open cannot be used to guess it or to add a clerk.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from terminal.desk.clerks import normal_staff_no
from terminal.errors import AccountError
from terminal.web import signin_throttle
from terminal.web.page import Page, read_form, redirect


async def clerks_page(request: Request) -> Response:
    page: Page = request.app.state.page
    if not page.is_owner(request):
        return redirect(request, "/")
    return await _render(page, request)


async def _render(page: Page, request: Request, **context: object) -> Response:
    accounts = await asyncio.to_thread(page.accounts.list)
    return page.render(request, "clerks.html", accounts=accounts, **context)


async def change(request: Request) -> Response:
    """POST /clerks/{action}: add | disable | enable | reset, confirmed by the owner's PIN."""
    page: Page = request.app.state.page
    _ = page.gettext(request)
    owner = page.operator(request)
    if owner is None or not page.is_owner(request):
        return redirect(request, "/")
    form = await read_form(request)
    action = request.path_params["action"]
    staff_no = normal_staff_no(form.get("staff_no"))
    host = request.client.host if request.client else None
    outcome = await asyncio.to_thread(
        page.throttle.attempt,
        host,
        lambda: page.accounts.verify(owner, form.get("owner_pin")) is not None,
        account=owner,
    )
    if outcome.changes:
        await asyncio.to_thread(signin_throttle.save, page.service.store, outcome.changes)
    if not outcome.ok:
        return await _render(page, request, error=_("The owner's PIN is wrong."), form=form)
    try:
        if action == "add":
            await asyncio.to_thread(
                page.accounts.add, staff_no, form.get("pin"), name=form.get("name"), by=owner
            )
            done = _("Clerk {n} added.")
        elif action in ("disable", "enable"):
            await asyncio.to_thread(
                page.accounts.set_active, staff_no, action == "enable", by=owner
            )
            done = _("Clerk {n} disabled.") if action == "disable" else _("Clerk {n} enabled.")
        elif action == "reset":
            await asyncio.to_thread(page.accounts.reset_pin, staff_no, form.get("pin"), by=owner)
            done = _("PIN of clerk {n} reset.")
        else:
            return Response(status_code=404)
    except AccountError as err:
        return await _render(page, request, error=page.error_text(request, err), form=form)
    if action in ("disable", "reset") and staff_no != owner:
        page.sessions.close_operator(staff_no)  # a disabled clerk's open page locks
    return await _render(page, request, done=done.format(n=staff_no))
