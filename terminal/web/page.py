"""Request plumbing shared by the routes: language, clerk session, form bodies, rendering.

Forms are `application/x-www-form-urlencoded` (what htmx sends), parsed here with the standard
library rather than pulling python-multipart onto the Pi for it.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from terminal.desk import clerks
from terminal.desk.frontdesk import TerminalService
from terminal.errors import TerminalError, TextRefusedError
from terminal.system.clock import AdvancedMonotonic
from terminal.web import guard, i18n, signin_throttle, status
from terminal.web.routes_local import loopback

log = logging.getLogger(__name__)
LANG_COOKIE = "anju_lang"
SESSION_COOKIE = "anju_clerk"
IDLE_GRACE_S = 10.0  # the page's own lock checks every 5 s; the server is the backstop


class Form:
    """A parsed form body: `form["room"]`, `form.all("stay_id")`."""

    def __init__(self, body: bytes) -> None:
        self._values = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)

    def get(self, name: str, default: str = "") -> str:
        values = self._values.get(name)
        return values[0].strip() if values else default

    def __getitem__(self, name: str) -> str:
        return self.get(name)

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self._values.get(name, []) if v.strip()]

    def names(self) -> list[str]:
        return list(self._values)


async def read_form(request: Request) -> Form:
    return Form(await request.body())


class Sessions:
    """Clerk sessions in memory: a restart signs everyone out, which is what a kiosk wants.

    The page locks itself after the idle time; the server enforces it too (a session unused
    for longer is gone), so a page left open elsewhere cannot keep a session alive.
    """

    def __init__(self, idle_s: float = 0) -> None:
        self._by_token: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.idle_s = idle_s

    def open(self, operator: str) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._by_token[token] = (operator, time.monotonic())
        return token

    def operator(self, token: str | None, *, touch: bool = False) -> str | None:
        with self._lock:
            entry = self._by_token.get(token or "")
            if entry is None:
                return None
            now = time.monotonic()
            if self.idle_s and now - entry[1] > self.idle_s + IDLE_GRACE_S:
                del self._by_token[token or ""]
                return None
            if touch:
                self._by_token[token or ""] = (entry[0], now)
            return entry[0]

    def close(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)

    def close_operator(self, operator: str) -> None:
        """Sign a clerk out everywhere (their account was disabled or their PIN reset)."""
        with self._lock:
            for token in [t for t, (who, _) in self._by_token.items() if who == operator]:
                del self._by_token[token]


class Page:
    """Per-app helpers bound to the service: who is the clerk, which language, render."""

    def __init__(self, service: TerminalService) -> None:
        self.service = service
        self.config = service.config
        self.sessions = Sessions(service.config["web.idle_lock_s"])
        # A simulated terminal's sign-in waits run on a clock /sim/advance moves on.
        self.sim_clock = AdvancedMonotonic() if service.sim is not None else None
        clock = self.sim_clock or time.monotonic
        with service.store.reader() as conn:  # failed sign-ins survive a restart (schema v4)
            self.throttle = signin_throttle.LoginThrottle(
                signin_throttle.ThrottlePolicy.from_config(service.config),
                counters=signin_throttle.load(conn, now=clock()), clock=clock)
        self.zone = ZoneInfo(service.config["registry.timezone"])
        self.tokens = guard.Tokens()
        self.accounts = clerks.Accounts(service.store)
        # A terminal upgraded from the one shared PIN: that PIN becomes the owner's (0000).
        if self.accounts.seed_from_shared_pin(str(service.config["web.clerk_pin"])):
            log.warning("clerk accounts: owner %s created with web.clerk_pin; sign in as the "
                        "owner, add each clerk, then change that PIN", clerks.SEED_OWNER)

    def locale(self, request: Request) -> str:
        return i18n.pick(request.cookies.get(LANG_COOKIE), self.config["web.locale"])

    def gettext(self, request: Request) -> Callable[[str], str]:
        return i18n.gettext_for(self.locale(request))

    def error_text(self, request: Request, err: TerminalError) -> str:
        """A registry error in the clerk's words; a refused text through the catalogs."""
        if isinstance(err, TextRefusedError):
            _ = self.gettext(request)
            last = err.field.rsplit(".", 1)[-1]
            labels = {"room": _("Room"), "name": _("Name"), "reason": _("Reason")}
            return _("{field} contains a control character (such as a line break or NUL). "
                     "Nothing was saved: type it again.").format(field=labels.get(last, last))
        return err.localized(self.locale(request).startswith("zh"))

    @property
    def pin_required(self) -> bool:
        """Sign-in is on as soon as one clerk account is active (terminal/desk/clerks.py)."""
        return self.accounts.any_active()

    def is_owner(self, request: Request) -> bool:
        operator = self.operator(request)
        if not self.pin_required or operator is None:
            return False
        account = self.accounts.get(operator)
        return account is not None and account.owner and account.active

    def may_selftest(self, request: Request) -> bool:
        """The self-test page (terminal/web/selftest.py): the owner when accounts exist; with
        none, a browser on the terminal itself only (it names paths, ports and the device)."""
        if self.pin_required:
            return self.is_owner(request)
        return loopback(request)

    def operator(self, request: Request, *, touch: bool = False) -> str | None:
        """The signed-in clerk (or the configured operator when no PIN is set); `touch`
        counts the request as the clerk's activity (not the page's own background calls)."""
        if not self.pin_required:
            return str(self.config["web.operator"])
        return self.sessions.operator(request.cookies.get(SESSION_COOKIE), touch=touch)

    def csrf_token(self, request: Request) -> str:
        """The token this browser sends back with every write (terminal/web/guard.py)."""
        return self.tokens.issue(guard.nonce_of(request), request.cookies.get(SESSION_COOKIE))

    def today(self) -> date:
        """The day the registry will check against: while the clock is not trusted, the
        latest day it can vouch for, so the page shows minors exactly as the check will."""
        return self.service.registry.today()[0]

    def render(self, request: Request, template: str, *, code: int = 200,
               headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
        locale = self.locale(request)
        env = i18n.environment(locale)
        context.setdefault("operator", self.operator(request))
        context.setdefault("pin_required", self.pin_required)
        context.setdefault("is_owner", self.is_owner(request))
        context.setdefault("may_selftest", self.may_selftest(request))
        context.setdefault("idle_lock_s", self.config["web.idle_lock_s"] if self.pin_required
                           else 0)
        context.setdefault("simulated", self.service.sim is not None)
        context["path"] = request.url.path
        context["csrf_token"] = self.csrf_token(request)
        context["timezone"] = self.config["registry.timezone"]
        if not template.startswith("_"):  # a whole page: the status bar is in it from the start
            context.setdefault("items", self.status_items(request))
        html = env.get_template(template).render(**context)
        return HTMLResponse(html, status_code=code, headers=headers)

    def status_items(self, request: Request) -> list[status.Item]:
        return status.items(self.service.health(), self.gettext(request))


def redirect(request: Request, url: str) -> Response:
    """htmx follows HX-Redirect; a plain form post gets a 303."""
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return Response(status_code=303, headers={"Location": url})


def now_ms() -> int:
    return int(time.time() * 1000)
