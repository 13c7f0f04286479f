"""Reading a request body under a size limit: refused as soon as it is known to be too large
(by its Content-Length, or while it streams in), never read whole first."""

from __future__ import annotations

from starlette.requests import Request


async def read_limited(request: Request, limit: int, too_large: Exception) -> bytes:
    """The raw body, or `too_large` raised once it is known to exceed `limit` bytes."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)
