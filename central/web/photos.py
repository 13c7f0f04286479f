"""A guest's card photo as PNG, for the stay page's <img>:

    GET /stay/{stay_id}/photo/{guest_id}?reason=...&csrf=...

Like the stay page: a logged-in user whose role may see personal data, the session's CSRF token,
a reason, the district restriction (404 outside it); audited as its own act (`photo`), written
after the photo was decoded and before it is answered. `Cache-Control: no-store`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from central.accounts import principals
from central.police import acts, photos
from central.police.photos import PhotoDecoding
from central.settings import Settings
from central.web import guard

PageHandler = Callable[..., Awaitable[Response]]


def install(app: FastAPI, engine: Engine, settings: Settings,
            page: Callable[[PageHandler], PageHandler],
            who_of: Callable[[Request], Awaitable[principals.Principal]]) -> PhotoDecoding:
    """The photo route (the photo logic is central/police/photos.py); returns the decoding the
    stay page uses. Loads the configured library now: CentralError (the server does not start)
    when it cannot be loaded."""
    decoding = photos.start_decoding(settings.photo_library, settings.photo_licence_code,
                                     settings.photo_timeout_s)

    @app.get("/stay/{stay_id}/photo/{guest_id}", include_in_schema=False)
    @page
    async def photo(request: Request, stay_id: str, guest_id: str) -> Response:
        who = await who_of(request)
        guard.check_csrf(who, request.query_params.get("csrf"))
        png = await run_in_threadpool(acts.view_photo, engine, who, stay_id, guest_id,
                                      request.query_params.get("reason"), decoding,
                                      settings.reason_rule())
        return Response(png, media_type="image/png", headers={
            "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer"})

    return decoding
