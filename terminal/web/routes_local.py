"""GET /local/health: the service's own view of its devices, for `anju doctor` on this box;
GET /local/update: whether a registration is open, for the updater (terminal/update/).

While the terminal service runs it holds the reader's port; doctor asks it here instead of
opening the port. Loopback peers only (the TCP peer, no proxy headers): the page may listen on
the LAN, this answer is for the technician's shell on the box. The Host guard applies as to
every page; it carries no personal data (state, port, SAM id, error text of the transport).
"""

from __future__ import annotations

import asyncio
import ipaddress
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

if TYPE_CHECKING:
    from terminal.desk.frontdesk import TerminalService
    from terminal.web.page import Page


def loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def local_health(request: Request) -> Response:
    if not loopback(request):
        return JSONResponse({"error": "loopback only"}, status_code=403)
    page: Page = request.app.state.page
    health = await asyncio.to_thread(page.service.health)
    return JSONResponse(
        {
            **devices(page.service),
            "server_reachable": health.server_reachable,
            "server_refusal": health.server_refusal,
            "backlog": health.backlog,
            "rejected": health.rejected,
        }
    )


async def local_update(request: Request) -> Response:
    """GET /local/update: may the updater restart the front desk now? `busy` while a
    registration is open (guests or scans in the party, not yet saved or cleared): a restart
    would drop it. Loopback only; counts, no personal data."""
    if not loopback(request):
        return JSONResponse({"error": "loopback only"}, status_code=403)
    page: Page = request.app.state.page
    _version, guests = page.service.draft.snapshot()
    attachments = page.service.draft.attachments()
    return JSONResponse({"busy": bool(guests or attachments), "guests": len(guests),
                         "attachments": len(attachments)})


def devices(service: TerminalService) -> dict[str, Any]:
    """The reader's and scanner's live state: what doctor's reader check reads (here over
    HTTP, in the page's self-test in-process)."""
    status = service.reader.status
    scanner = service.scanner
    return {
        "reader": {
            "state": status.state,
            "port": status.port,
            "baud": status.baud,
            "sam_id": status.sam_id,
            "last_error": status.last_error,
            "reads": status.reads,
            "failures": status.failures,
            "reconnects": status.reconnects,
        },
        "scanner": scanner.connected.is_set() if scanner else None,
    }
