"""Load shedding, and a deadline on request bodies.

Shedding: beyond N requests in flight, answer 503 at once instead of queueing. When a whole
city's terminals reconnect after an outage, queueing would slow every request until all of them
time out and retry together. Retry-After is jittered between the base and twice the base, which
spreads the next wave. One event loop: a plain counter is exact.

What counts as in flight is work the server does, not time spent waiting on a client that has
proved nothing (issue 14: 66 sockets announcing a body and sending 10 bytes filled every slot):

    no body declared (or GET, HEAD, OPTIONS)     counted from the start
    a body declared                              counted once the whole body has arrived, or
                                                 from `admit(scope)`, which a signed route calls
                                                 once the headers have authenticated the device
                                                 (a bad signature is answered at once, so only
                                                 an authenticated sender waits counted)

Deadline: a request's whole body must arrive within `body_timeout_s` of its headers, else the
app's `receive` raises BodyTimeoutError (408). An answer sent before the declared body has all
arrived (408, 401 before the body, 413) carries `Connection: close`, so the server stops
reading from that socket instead of draining a trickle forever.

Every answer, refused or not, carries X-Anju-Server-Time (Unix seconds) for clock correction.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from central.errors import BodyTimeoutError, OverloadedError
from sync.signing import SERVER_TIME_HEADER

log = logging.getLogger(__name__)
_SERVER_TIME = SERVER_TIME_HEADER.lower().encode("ascii")
_GATE = "anju.gate"  # the scope key of a request's Gate
_BODYLESS_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


class LoadShedder:
    def __init__(self, app: ASGIApp, *, limit: int, retry_after_s: int,
                 body_timeout_s: float = 30.0) -> None:
        self.app = app
        self.limit = limit
        self.retry_after_s = retry_after_s
        self.body_timeout_s = body_timeout_s
        self.in_flight = 0
        self.shed = 0
        self.body_timeouts = 0
        self._shedding = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        gate = Gate(self, scope, receive)
        scope[_GATE] = gate

        async def stamped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((_SERVER_TIME, f"{time.time():.3f}".encode("ascii")))
                if gate.body_pending:
                    headers.append((b"connection", b"close"))
                message = {**message, "headers": headers}
            await send(message)

        if not gate.body_pending:
            if not self.try_admit():
                await self._refuse(stamped)
                return
            gate.admitted = True
        try:
            await self.app(scope, gate.receive, stamped)
        finally:
            if gate.admitted:
                self.in_flight -= 1

    def try_admit(self) -> bool:
        if self.in_flight >= self.limit:
            self._note_shed()
            return False
        if self._shedding and self.in_flight < self.limit // 2:
            self._shedding = False
            log.warning("load shedding ended after %d refused requests", self.shed)
        self.in_flight += 1
        return True

    def retry_after(self) -> int:
        return random.randint(self.retry_after_s, 2 * self.retry_after_s)

    def overloaded(self) -> OverloadedError:
        retry_after = self.retry_after()
        return OverloadedError(f"server busy ({self.limit} requests in flight): retry after "
                               f"{retry_after} s", retry_after_s=retry_after)

    def _note_shed(self) -> None:
        self.shed += 1
        if not self._shedding:
            self._shedding = True
            log.warning("load shedding: %d requests in flight, refusing more", self.in_flight)

    async def _refuse(self, send: Send) -> None:
        refusal = self.overloaded()
        body = json.dumps(refusal.body()).encode("utf-8")
        retry_after = refusal.detail["retry_after_s"]
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode())]})
        await send({"type": "http.response.body", "body": body})


class Gate:
    """One request's standing with the shedder: admitted or not, and its body's deadline."""

    def __init__(self, shedder: LoadShedder, scope: Scope, receive: Receive) -> None:
        self.shedder = shedder
        self._receive = receive
        self.admitted = False
        self.body_pending = scope["method"] not in _BODYLESS_METHODS and _declares_body(scope)
        self.deadline = asyncio.get_running_loop().time() + shedder.body_timeout_s

    def admit(self) -> None:
        """Count this request from now (no-op when already counted); 503 when full."""
        if not self.admitted:
            if not self.shedder.try_admit():
                raise self.shedder.overloaded()
            self.admitted = True

    async def receive(self) -> Message:
        if not self.body_pending:
            return await self._receive()  # the body is in; later calls wait for a disconnect
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self._receive()
        except TimeoutError:
            self.shedder.body_timeouts += 1
            raise BodyTimeoutError(
                f"the request body did not arrive within {self.shedder.body_timeout_s:g} s"
                ) from None
        if message["type"] == "http.request" and not message.get("more_body", False):
            self.body_pending = False
            self.admit()
        return message


def admit(scope: Scope) -> None:
    """Count this request as in flight from now (a signed route, before authenticating)."""
    gate = scope.get(_GATE)
    if isinstance(gate, Gate):
        gate.admit()


def _declares_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (
                b"", b"0")):
            return True
    return False
