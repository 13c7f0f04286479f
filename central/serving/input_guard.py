"""Request paths and query strings that cannot be text are refused (400) before any route.

Every page and API of the server reads its parameters from the path and the query string;
a NUL there reached PostgreSQL (which refuses it in text) and came back as a 500. So, for every
request, before a route runs: the query string is at most MAX_QUERY_BYTES, it decodes as UTF-8
(a lone surrogate cannot be encoded in UTF-8, so it arrives as invalid bytes), and neither the
decoded path nor any name or value holds a control character (the text rule of
sync/fields.py). The answer is the server's one error shape, `400 invalid_parameter`.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from sync.fields import text_problem

MAX_QUERY_BYTES = 8 * 1024


def problem(path: str, query: bytes) -> str | None:
    """Why this path and query string are refused (None: they are not)."""
    why = text_problem(path)
    if why is not None:
        return f"the path {why}"
    if len(query) > MAX_QUERY_BYTES:
        return f"the query string is longer than {MAX_QUERY_BYTES} bytes"
    try:
        pairs = parse_qsl(
            query.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict"
        )
    except UnicodeDecodeError:
        return "the query string is not UTF-8"
    for name, value in pairs:
        why = text_problem(name) or text_problem(value)
        if why is not None:
            safe = name if text_problem(name) is None else "a parameter"
            return f"query parameter {safe!r} {why}"
    return None


class InputGuard:
    """Pure ASGI middleware: refuses a request whose path or query string is not text."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            why = problem(scope.get("path", ""), scope.get("query_string", b""))
            if why is not None:
                body = json.dumps({"error": {"code": "invalid_parameter", "message": why}}).encode(
                    "utf-8"
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode("ascii")),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
