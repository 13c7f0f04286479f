"""Load shedding: beyond N requests in flight, answer 503 at once instead of queueing.

When a whole city's terminals reconnect after an outage, queueing would slow every request
until all of them time out and retry together. A pure ASGI middleware counts requests in
flight (one event loop: a plain counter is exact) and refuses the excess before the request
body is read, so a refused request was certainly not stored. Retry-After is jittered between
the base and twice the base, which spreads the next wave.

Every answer, refused or not, carries X-Anju-Server-Time (Unix seconds) for clock correction.
"""

from __future__ import annotations

import json
import logging
import random
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sync.signing import SERVER_TIME_HEADER

log = logging.getLogger(__name__)
_SERVER_TIME = SERVER_TIME_HEADER.lower().encode("ascii")


class LoadShedder:
    def __init__(self, app: ASGIApp, *, limit: int, retry_after_s: int) -> None:
        self.app = app
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.in_flight = 0
        self.shed = 0
        self._shedding = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((_SERVER_TIME, f"{time.time():.3f}".encode("ascii")))
                message = {**message, "headers": headers}
            await send(message)

        if self.in_flight >= self.limit:
            await self._refuse(stamped)
            return
        if self._shedding and self.in_flight < self.limit // 2:
            self._shedding = False
            log.warning("load shedding ended after %d refused requests", self.shed)
        self.in_flight += 1
        try:
            await self.app(scope, receive, stamped)
        finally:
            self.in_flight -= 1

    async def _refuse(self, send: Send) -> None:
        self.shed += 1
        if not self._shedding:
            self._shedding = True
            log.warning("load shedding: %d requests in flight, refusing more", self.in_flight)
        retry_after = random.randint(self.retry_after_s, 2 * self.retry_after_s)
        body = json.dumps({"error": {
            "code": "overloaded", "retry_after_s": retry_after,
            "message": f"server busy ({self.limit} requests in flight): retry after "
                       f"{retry_after} s"}}).encode("utf-8")
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode())]})
        await send({"type": "http.response.body", "body": body})
