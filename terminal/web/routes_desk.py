"""Check-in: the party from the cards, the room, minors' links, confirm; manual entry.

"Saved" is rendered only from the value `Registry.check_in` returns, i.e. after its commit.
The confirm carries the draft's stay id, so a confirm sent twice (a double tap, a retry after a
lost answer) is refused the second time instead of saving the party twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response

from terminal.desk.draft import MinorLink
from terminal.desk.registry import Saved
from terminal.desk.scans import apply_scan
from terminal.domain.checks import Finding, Override
from terminal.domain.codes import code_tables
from terminal.errors import BlockedError, TerminalError
from terminal.web import forms
from terminal.web.page import Form, Page, read_form, redirect
from terminal.web.routes_scan import manual_scan_context
from terminal.web.views import code_name, guest_view
from wlt.errors import PhotoDecoderError


def party_context(page: Page, request: Request, form: Form | None = None) -> dict[str, Any]:
    locale = page.locale(request)
    today = page.today()
    version, drafts = page.service.draft.snapshot()
    guests = [guest_view(d, today, locale) for d in drafts]
    relationships = [(k, code_name("relationships", k, locale))
                     for k in code_tables().relationships]
    preview = page.service.registry.preview([d.guest for d in drafts]) if drafts else []
    by_guest: dict[str, list[Finding]] = {}
    for f in preview:
        by_guest.setdefault(f.guest_id or "", []).append(f)
    guardian_for, guardian_names = page.service.draft.guardian_state()
    return {"guests": guests, "draft_version": version, "relationships": relationships,
            "guardian_for": guardian_for, "guardian_names": guardian_names,
            "guest_findings": by_guest, "previewed": {(f.code, f.guest_id) for f in preview},
            "preview_confirm": any(f.needs_confirm for f in preview),
            "override_presets": override_presets(page.gettext(request)),
            "adults": [g for g in guests if not g.minor], "form": form or Form(b""),
            "attachments": page.service.draft.attachments(),
            "photo_configured": page.service.photos.configured,
            "expected": form.get("expected_check_out") if form else "",
            "nights": [(n, (today + timedelta(days=n)).isoformat()) for n in (1, 2, 3)]}


def override_presets(_: Callable[[str], str]) -> list[str]:
    """The common reasons to register anyway, one tap each (free text stays possible)."""
    return [_("Identity checked in person; new card being issued"),
            _("Police station agreed by phone")]


async def checkin_page(request: Request) -> Response:
    page: Page = request.app.state.page
    return page.render(request, "checkin.html", room="", **party_context(page, request))


async def party_fragment(request: Request) -> Response:
    page: Page = request.app.state.page
    return page.render(request, "_party.html", **party_context(page, request))


async def remove_guest(request: Request) -> Response:
    page: Page = request.app.state.page
    page.service.draft.remove(request.path_params["guest_id"])
    page.service.hub.publish("draft", version=page.service.draft.version)
    return page.render(request, "_party.html", **party_context(page, request))


async def arm_guardian(request: Request) -> Response:
    """Toggle "the next card is this minor's guardian" (terminal/web/draft.py)."""
    page: Page = request.app.state.page
    draft = page.service.draft
    guest_id = request.path_params["guest_id"]
    draft.arm_guardian(None if draft.guardian_state()[0] == guest_id else guest_id)
    page.service.hub.publish("draft", version=draft.version)
    return page.render(request, "_party.html", **party_context(page, request))


async def clear_party(request: Request) -> Response:
    page: Page = request.app.state.page
    page.service.draft.clear()
    page.service.scans.clear()  # scanned documents go with the party
    page.service.hub.publish("draft", version=page.service.draft.version)
    return page.render(request, "_checkin_form.html", room="", **party_context(page, request))


def _links(form: Form) -> dict[str, MinorLink]:
    links = {}
    for name in form.names():
        if name.startswith("minor.") and name.endswith(".mode"):
            gid = name.split(".")[1]
            accompanied = form.get(f"minor.{gid}.mode") == "adult"
            links[gid] = MinorLink(
                accompanied_by=form.get(f"minor.{gid}.adult") or None if accompanied else None,
                relationship=form.get(f"minor.{gid}.relationship") or None,
                guardian_name=form.get(f"minor.{gid}.guardian_name"),
                guardian_phone=form.get(f"minor.{gid}.guardian_phone"),
                guardian_relationship=form.get(f"minor.{gid}.relationship") or None,
                guardian_contacted=form.get(f"minor.{gid}.contacted") == "yes")
    return links


def _overrides(form: Form) -> list[Override]:
    out = []
    for name in form.names():
        if name.startswith("override."):
            _, code, gid = name.split(".", 2) if name.count(".") >= 2 else (name, "", "")
            reason = form.get(name)
            if reason:
                # field names carry the code with its dot replaced: override.document~expired.gid
                out.append(Override(code.replace("~", "."), gid or None, reason))
    return out


async def confirm(request: Request) -> Response:
    page: Page = request.app.state.page
    _ = page.gettext(request)
    operator = page.operator(request)
    if operator is None:
        return redirect(request, "/login")
    form = await read_form(request)
    room = form.get("room")
    draft = page.service.draft
    version, drafts = draft.snapshot()
    context = party_context(page, request, form)
    if not drafts:
        return page.render(request, "_checkin_form.html", room=room,
                           error=_("Place an ID card on the reader first."), **context)
    if str(version) != form.get("draft_version"):
        return page.render(request, "_checkin_form.html", room=room,
                           error=_("The party changed; check it and confirm again."), **context)
    try:  # "1 晚" fills the date: one field, a date or nights
        text = form.get("expected_check_out").strip()
        expected = date.fromisoformat(text) if text else None
    except ValueError:
        return page.render(request, "_checkin_form.html", room=room, error=_(
            "Expected check-out: write it as 2026-12-06."), **context)
    guests = draft.guests_for_check_in(_links(form), page.today())
    attachments = draft.attachments()
    stay_id = draft.stay_id

    def save() -> Saved:
        return page.service.registry.check_in(room=room, guests=guests, operator=operator,
                                              expected_check_out=expected,
                                              overrides=_overrides(form), stay_id=stay_id,
                                              attachments=attachments,
                                              dates_confirmed=form.get("confirm_dates") == "yes")

    try:
        saved = await anyio.to_thread.run_sync(save)
    except BlockedError as err:  # the findings list says what to do, one line each
        # Those the party shows already (with their override in place) are not repeated.
        rest = [f for f in err.findings if (f.code, f.guest_id) not in context["previewed"]]
        return page.render(request, "_checkin_form.html", room=room, findings=rest,
                           error=_("Not saved yet: see below."), **context)
    except TerminalError as err:
        return page.render(request, "_checkin_form.html", room=room,
                           error=page.error_text(request, err), **context)
    draft.clear()
    page.service.scans.clear()  # the scans' personal data is in the store now, not in memory
    page.service.hub.publish("draft", version=draft.version)
    page.service.hub.publish("status", backlog=True)  # one more waiting to send
    # What the party showed before the confirm is not news: only the rest (the room's).
    notes = [f for f in saved.findings
             if not f.blocks and (f.code, f.guest_id) not in context["previewed"]]
    names = "、".join(g.name or " ".join(filter(None, (g.surname_en, g.given_names_en)))
                     for g in guests)
    return page.render(request, "_checkin_form.html", room="", saved_room=room,
                       saved_count=len(guests), saved_stay=saved.stay_id, notes=notes,
                       saved_names=names,
                       **party_context(page, request))


async def manual_page(request: Request) -> Response:
    """The manual form; `?scan=ID` prefills it from a scanned MRZ and shows its checks."""
    page: Page = request.app.state.page
    kept = page.service.scans.get(request.query_params.get("scan", ""))
    scanned = manual_scan_context(page, request, kept)
    context = forms.manual_context(page.locale(request), scanned.pop("form", Form(b"")),
                                   scanned.pop("doc_type", "14"))
    return page.render(request, "manual.html", **context, **scanned)


async def manual_fields(request: Request) -> Response:
    page: Page = request.app.state.page
    doc_type = request.query_params.get("document_type", "14")
    return page.render(request, "_manual_fields.html",
                       **forms.manual_context(page.locale(request), Form(b""), doc_type))


async def manual_add(request: Request) -> Response:
    page: Page = request.app.state.page
    form = await read_form(request)
    locale = page.locale(request)
    kept = page.service.scans.get(form.get("scan_id"))
    try:
        guest = forms.manual_guest(form, page.gettext(request))
    except forms.FormError as err:
        scanned = manual_scan_context(page, request, kept, form)
        scanned.pop("form", None)
        scanned.pop("doc_type", None)
        return page.render(request, "manual.html", error=str(err), code=200,
                           **forms.manual_context(locale, form, form.get("document_type")),
                           **scanned)
    if kept is not None:
        guest = apply_scan(guest, kept)
    page.service.draft.add_guest(guest)
    page.service.hub.publish("draft", version=page.service.draft.version)
    return redirect(request, "/")


async def photo(request: Request) -> Response:
    """The card's photo as PNG through the vendor decoder (404: none configured or failed)."""
    page: Page = request.app.state.page
    guest_id = request.path_params["guest_id"]
    _, drafts = page.service.draft.snapshot()
    card = next((d.card for d in drafts if d.guest.guest_id == guest_id and d.card), None)
    if card is None or not page.service.photos.configured:
        return Response(status_code=404)
    try:
        result = await anyio.to_thread.run_sync(page.service.photos.decode, card.photo_wlt)
    except PhotoDecoderError:  # the placeholder stays; the registration does not depend on it
        return Response(status_code=404)
    return Response(result.png, media_type="image/png", headers={"Cache-Control": "no-store"})
