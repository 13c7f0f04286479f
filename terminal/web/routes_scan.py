"""Scans on the page: the "scan" server-sent event, picture upload, and the simulator hook.

A scan arrives on a hub thread (serial / wedge scanner) or from an uploaded picture decoded in
the image worker; either way `TerminalService._on_scan` keeps it and publishes a "scan" notice.
Each page's event stream renders it here: a prefill scan sends the page to the manual form
(`/manual?scan=ID`), anything else becomes a one-line message (attachments also re-render the
party through the "draft" notice).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from drivers.barcode import mrzbuild
from drivers.barcode.errors import DecodeError
from terminal.desk.scans import (
    FIELD_LABELS,
    PREFILL,
    KeptScan,
    checks_view,
    prefill_values,
    visa_values,
)
from terminal.web.page import Form, Page

MAX_IMAGE_BYTES = 12 * 1024 * 1024  # a phone photo fits; anything bigger is refused


def scan_notice(page: Page, request: Request, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(html, meta) of one "scan" notice for this page's language."""
    use = str(data.get("use"))
    if use in PREFILL:
        return "", {"use": use, "url": "/manual?" + urlencode({"scan": data["scan_id"]})}
    kept = page.service.scans.get(str(data.get("scan_id")))
    html = page.render(request, "_scan_msg.html", use=use, name=data.get("guest") or "",
                       failing=_failing(page, request, kept)).body.decode()
    if use == "visa_form":  # the passport's form, if open on this page, takes the visa
        return html, {"use": use, "fill": data.get("fill"), "for_scan": data["passport_scan"]}
    return html, {"use": use}


def _failing(page: Page, request: Request, kept: KeptScan | None) -> str:
    """The failing checks of a visa scan, named in the page's language."""
    if kept is None or kept.event.interpretation.mrz is None:
        return ""
    _ = page.gettext(request)
    fields = kept.event.interpretation.mrz.failing_fields
    return "、".join(sorted(_(FIELD_LABELS.get(f, f)) for f in fields))


def manual_scan_context(page: Page, request: Request, kept: KeptScan | None,
                        form: Form | None = None) -> dict[str, Any]:
    """The prefilled form values and the MRZ checks for /manual?scan=ID."""
    if kept is None or kept.event.use not in PREFILL:
        return {}
    values = prefill_values(kept.event)
    visa = page.service.scans.visa_for(kept.scan_id)  # scanned before the form was opened
    values.update(visa_values(kept.event.interpretation.mrz, visa))
    return {"form": form or Form(urlencode(values).encode()), "doc_type": values["document_type"],
            "scan": checks_view(kept, page.gettext(request))}


async def upload(request: Request) -> Response:
    """POST /scan/image: a picture (camera frame or photo of a code) as the request body."""
    page: Page = request.app.state.page
    _ = page.gettext(request)
    body = await request.body()
    if not body or len(body) > MAX_IMAGE_BYTES:
        return page.render(request, "_scan_msg.html", use="error",
                           message=_("No picture, or the picture is too large."))
    try:
        events = await anyio.to_thread.run_sync(page.service.scan_hub.submit_image, body)
    except DecodeError:  # unreadable picture, decoder timed out or crashed (it restarts)
        return page.render(request, "_scan_msg.html", use="error",
                           message=_("The picture could not be read. Try another one."))
    if not events:
        return page.render(request, "_scan_msg.html", use="error",
                           message=_("No code found in the picture."))
    # Each event already went to the pages through the hub; answer with the last one's message.
    return page.render(request, "_scan_msg.html", use=events[-1].use)


async def sim_scan(request: Request) -> Response:
    """POST /sim/scan (only with --simulate): the simulated scanner sends one payload.

    Body: {"text": "..."} | {"hex": "..."} |
          {"mrz": {MrzFields...}, "format": "td3"|"td1"|"td2"|"mrva"|"mrvb"}
    """
    page: Page = request.app.state.page
    sim = page.service.scanner_sim
    if sim is None:
        return JSONResponse({"error": "not simulating"}, status_code=404)
    body = json.loads(await request.body() or b"{}")
    if "mrz" in body:
        builder = {"td1": mrzbuild.td1, "td2": mrzbuild.td2, "td3": mrzbuild.td3,
                   "mrva": mrzbuild.mrva, "mrvb": mrzbuild.mrvb}[body.get("format", "td3")]
        payload = builder(mrzbuild.MrzFields(**body["mrz"])).encode()
    elif "hex" in body:
        payload = bytes.fromhex(body["hex"])
    else:
        payload = str(body.get("text", "")).encode("utf-8")
    await anyio.to_thread.run_sync(sim.send, payload)
    return JSONResponse({"ok": True, "sent": sim.sent})
