"""Who may talk to the page: the Host it was asked for, the page a write came from, its token.

Checked by `Guard` (ASGI middleware) before any route, sign-in included (docs/frontdesk.md,
"Requests the page refuses"):

* **Host**: every request names a host the page is known by (loopback names, `web.host`, the
  `--host` it listens on, `web.allowed_hosts`). A page on another site whose name was re-pointed
  at 127.0.0.1 (DNS rebinding) sends its own name and is refused before it can read anything.
* **Origin**: a write (any method but GET/HEAD/OPTIONS) that carries `Origin` must come from
  this very origin (scheme, host and port: another service on 127.0.0.1 is another origin but
  the same cookie site), and `Sec-Fetch-Site`, where sent, must say `same-origin`.
* **CSRF token**, a signed double submit: each browser gets a random nonce in the `anju_csrf`
  cookie (SameSite=Strict, HttpOnly); its token is HMAC-SHA256(process secret, nonce | clerk
  session cookie). The page carries it (`hx-headers` on `<body>` for htmx, a hidden
  `csrf_token` field in plain forms, a meta tag for fetch) and every write must send it back.
  Another site can neither read it nor compute it; a planted nonce cookie gets nothing without
  the secret, and signing in changes the token. The secret lives in memory only: after a
  restart the event stream hands an open page its new token.

The simulator hooks (`/sim/*`, only with `--simulate`, for tests and the bench) skip the token
but not the Host and Origin checks. Refusals are 403 in the page's language; the log says which
check refused, at most once a minute per check (a hostile page cannot fill the log).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Iterable
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from terminal.web.page import Page

log = logging.getLogger(__name__)
CSRF_COOKIE = "anju_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SCOPE_NONCE = "anju.csrf_nonce"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("", "0.0.0.0", "::")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
NO_TOKEN = ("/sim/",)
MAX_FORM_BYTES = 256 * 1024  # the largest form (manual entry) is a few kB
LOG_EVERY_S = 60.0


def N_(text: str) -> str:  # marks a string for extraction; translated where shown
    return text


# What the clerk reads (translated by the page's catalog), per refusal.
MESSAGES = {
    "host": N_(
        "The front-desk page does not answer to this address. Open it on the terminal "
        "itself, or ask the technician to add this name to web.allowed_hosts."
    ),
    "origin": N_("Refused: this request did not come from the front-desk page."),
    "token": N_("This page has expired. Reload the page, then try again."),
}


def host_name(value: str) -> str:
    """The name part of a Host header or a configured name: lower case, no port, no brackets."""
    host = value.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else ""
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    elif ":" in host:
        return host  # a bare IPv6 address (a configured name; a Host header brackets it)
    return host.rstrip(".")


def allowed_hosts(configured: Iterable[str], *listen: str | None) -> frozenset[str]:
    names = {host_name(n) for n in (*LOOPBACK, *configured)}
    names |= {host_name(h) for h in listen if h is not None and host_name(h) not in WILDCARDS}
    return frozenset(names - {""})


class Tokens:
    """CSRF tokens: HMAC of the browser's nonce and its clerk session under a process secret."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def issue(self, nonce: str, session: str | None) -> str:
        mac = hmac.new(self._secret, f"{nonce}|{session or ''}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()

    def valid(self, token: str | None, nonce: str | None, session: str | None) -> bool:
        if not token or not nonce:
            return False
        return hmac.compare_digest(token.encode(), self.issue(nonce, session).encode())


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def nonce_of(request: Request) -> str:
    """This browser's nonce: the cookie, or the one the guard is setting on this response."""
    return str(request.scope.get(SCOPE_NONCE) or request.cookies.get(CSRF_COOKIE) or "")


class QuietLog:
    """One warning per kind of refusal per minute, with how many were left out."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def refused(self, reason: str, method: str, path: str) -> None:
        now = time.monotonic()
        if now - self._last.get(reason, -LOG_EVERY_S) < LOG_EVERY_S:
            self._held[reason] = self._held.get(reason, 0) + 1
            return
        self._last[reason] = now
        held = self._held.pop(reason, 0)
        # The path came from the client: repr() keeps a newline in it from forging a line.
        log.warning(
            "front desk refused %s %r: %s check failed%s",
            method,
            path[:100],
            reason,
            f" ({held} more since the last warning)" if held else "",
        )


class Guard:
    """ASGI middleware: Host on every request; Origin and the CSRF token on every write."""

    def __init__(
        self, app: ASGIApp, page: Page, session_cookie: str, hosts: frozenset[str]
    ) -> None:
        self.app = app
        self.page = page
        self.session_cookie = session_cookie
        self.hosts = hosts
        self.quiet = QuietLog()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if host_name(request.headers.get("host", "")) not in self.hosts:
            await self._refuse(request, "host", send)
            return
        nonce = request.cookies.get(CSRF_COOKIE)
        if scope["method"] not in SAFE_METHODS:
            if not self._same_origin(request):
                await self._refuse(request, "origin", send)
                return
            if not scope["path"].startswith(NO_TOKEN):
                token, receive = await self._token(request, receive)
                session = request.cookies.get(self.session_cookie)
                if not self.page.tokens.valid(token, nonce, session):
                    await self._refuse(request, "token", send)
                    return
        if nonce:
            await self.app(scope, receive, send)
            return
        scope[SCOPE_NONCE] = nonce = new_nonce()
        await self.app(scope, receive, _with_cookie(send, nonce))

    @staticmethod
    def _same_origin(request: Request) -> bool:
        fetch_site = request.headers.get("sec-fetch-site")
        if fetch_site is not None and fetch_site not in ("same-origin", "none"):
            return False
        origin = request.headers.get("origin")
        if origin is None:
            return True  # not a browser (browsers send Origin with every write): token decides
        # An origin is scheme://host[:port], exactly what the browser put in the Host header.
        return origin.lower() == f"{request.url.scheme}://{request.headers.get('host', '')}".lower()

    @staticmethod
    async def _token(request: Request, receive: Receive) -> tuple[str | None, Receive]:
        """The token from the header, else from a form body (which is then replayed)."""
        token = request.headers.get(CSRF_HEADER)
        content_type = request.headers.get("content-type", "")
        if token or not content_type.startswith("application/x-www-form-urlencoded"):
            return token, receive
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return None, receive
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > MAX_FORM_BYTES:
                return None, receive
            more = message.get("more_body", False)
        body = b"".join(chunks)
        field = parse_qs(body.decode("utf-8", errors="replace")).get(CSRF_FIELD)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return (field[0] if field else None), replay

    async def _refuse(self, request: Request, reason: str, send: Send) -> None:
        self.quiet.refused(reason, request.method, request.url.path)
        message = self.page.gettext(request)(MESSAGES[reason])
        template = "_error.html" if request.headers.get("hx-request") else "_refused.html"
        response = self.page.render(
            request, template, code=403, message=message, headers={"Cache-Control": "no-store"}
        )
        await response(request.scope, _receive_nothing, send)


async def _receive_nothing() -> Message:
    return {"type": "http.disconnect"}


def _with_cookie(send: Send, nonce: str) -> Send:
    cookie: SimpleCookie = SimpleCookie()
    cookie[CSRF_COOKIE] = nonce
    cookie[CSRF_COOKIE].update({"path": "/", "httponly": True, "samesite": "Strict"})
    value = cookie.output(header="").strip()

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message).append("set-cookie", value)
        await send(message)

    return sending


def local_path(referer: str | None, host: str) -> str:
    """Where a language switch returns: the referring page's path if it was this page, else /."""
    if not referer:
        return "/"
    parts = urlsplit(referer)
    path = parts.path or "/"
    if (
        parts.scheme not in ("http", "https")
        or parts.netloc.lower() != host.lower()
        or not path.startswith("/")
        or path.startswith(("//", "/lang/"))
        or "\\" in path
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in referer)
    ):
        return "/"
    return path + (f"?{parts.query}" if parts.query else "")
