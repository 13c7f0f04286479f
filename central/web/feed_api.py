"""`GET /api/v1/feed?after=CURSOR&limit=N&format=ndjson|csv`: the change feed for police
systems, with a feed token (central/feed/, docs/feed.md).

Headers tell the page before its body: X-Anju-Feed-Count (records), X-Anju-Feed-Last (the
cursor to resume after), X-Anju-Feed-More (1 when the page is full: ask again at once). The body
is streamed. Errors in the server's one shape: 401 missing_token / bad_token, 403
wrong_token_kind (a user's search token), 429 rate_limited (Retry-After), 400 invalid_field.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from central.feed import pages, tokens

_OPENAPI = {
    "parameters": [
        {
            "name": "after",
            "in": "query",
            "description": "resume after this cursor (default: the beginning)",
            "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"},
        },
        {
            "name": "limit",
            "in": "query",
            "description": f"1..{pages.MAX_LIMIT} records (default {pages.DEFAULT_LIMIT})",
            "schema": {"type": "integer"},
        },
        {"name": "format", "in": "query", "schema": {"enum": sorted(pages.FORMATS)}},
    ],
    "description": "Authenticate with `Authorization: Bearer <feed token>` from "
    "`anju central feed token issue SYSTEM`. See docs/feed.md.",
}
_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "records, one JSON object a line, oldest first",
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    },
    **{
        status: {
            "description": "error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status in (400, 401, 403, 429)
    },
}


def install(app: FastAPI, engine: Engine) -> None:
    @app.get(
        "/api/v1/feed",
        tags=["police"],
        openapi_extra=_OPENAPI,
        responses=_ANSWERS,
        summary="Stays and their changes in commit order (feed token; audited)",
    )
    async def feed(request: Request) -> StreamingResponse:
        params = request.query_params

        def work() -> tuple[str, pages.Page]:
            client = tokens.authenticate(engine, request.headers.get("authorization"))
            fmt = pages.format_of(params.get("format"))
            after = pages.parse_cursor(params.get("after"))
            limit = pages.parse_limit(params.get("limit"))
            return fmt, pages.take(engine, client, after, limit, fmt)

        fmt, page = await run_in_threadpool(work)
        media_type, render = pages.FORMATS[fmt]
        return StreamingResponse(
            render(pages.stored(engine, page.positions)),
            media_type=media_type,
            headers={
                "Cache-Control": "no-store",
                "X-Anju-Feed-Count": str(len(page.positions)),
                "X-Anju-Feed-Last": str(page.last),
                "X-Anju-Feed-More": "1" if page.more else "0",
            },
        )
