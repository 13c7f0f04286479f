"""The Starlette app of the front-desk page: routes, event stream, sign-in, language, sim hooks.

Errors never reach the clerk as a stack trace: a terminal error is shown with its Chinese (or
English) message, anything else as "something went wrong, try again" and logged by class only
(an exception's text may hold a name or a number).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import AsyncIterator, Callable
from importlib import resources

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from drivers.sim.sam import SimCard, load_sim_cards
from terminal.desk import clerks
from terminal.desk.frontdesk import TerminalService
from terminal.desk.notices import CLOSING, Notice
from terminal.system import liveness, sdnotify
from terminal.web import (
    guard,
    i18n,
    routes_clerks,
    routes_desk,
    routes_local,
    routes_records,
    routes_scan,
    selftest,
    signin_throttle,
)
from terminal.web.page import LANG_COOKIE, SESSION_COOKIE, Page, read_form, redirect

log = logging.getLogger(__name__)
STATUS_TICK_S = 5.0  # the status bar refreshes at least this often (backlog age, disk)
PUBLIC = ("/login", "/static", "/lang", "/healthz", "/sim", "/local/")
BACKGROUND = ("/events", "/status")  # the page's own calls: not the clerk's activity
EVENT_LOOP_BOUND_S = 10.0  # the loop beats every second; ten missed beats: it is stuck


def _sse(event: str, html: str, **extra: object) -> str:
    lines = [f"event: {event}"]
    if extra:
        lines.append("data: " + json.dumps(extra))
    lines += [f"data: {line}" for line in html.splitlines()] or ["data: "]
    return "\n".join(lines) + "\n\n"


async def events(request: Request) -> Response:
    """One stream per open page: the party and the status bar, rendered in its language."""
    page: Page = request.app.state.page
    hub = page.service.hub
    queue = hub.subscribe()

    async def render(notice: Notice, *, initial: bool = False) -> str:
        if notice.name == "scan":
            html, meta = routes_scan.scan_notice(page, request, notice.data)
            return _sse("scan", html, **meta)
        if notice.name == "draft":
            ctx = routes_desk.party_context(page, request)
            read_at = max((g.read_at for g in ctx["guests"]), default=0.0)
            html = page.render(request, "_party.html", **ctx).body.decode()
            return _sse("draft", html, read_at=read_at, version=ctx["draft_version"],
                        guests=len(ctx["guests"]), initial=initial)
        items = await asyncio.to_thread(page.status_items, request)
        html = page.render(request, "_status.html", items=items).body.decode()
        return _sse("status", html)

    async def stream() -> AsyncIterator[str]:
        try:
            yield "retry: 1000\n\n"
            # After a restart (a new secret) the reconnected page gets its new token here.
            yield _sse("csrf", page.csrf_token(request))
            yield await render(Notice("status"))
            # A card read while the page was loading must not be missed.
            yield await render(Notice("draft"), initial=True)
            while True:
                try:
                    notice = await asyncio.wait_for(queue.get(), STATUS_TICK_S)
                except TimeoutError:
                    notice = Notice("status")
                if notice.name == CLOSING:
                    return  # the service stops: end the response, do not hold the shutdown
                # A stream outlives the page's lock: nothing more once its clerk is gone.
                if page.pin_required and page.operator(request) is None:
                    yield _sse("locked", "")
                    return
                yield await render(notice)
        finally:
            hub.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def status_fragment(request: Request) -> Response:
    page: Page = request.app.state.page
    items = await asyncio.to_thread(page.status_items, request)
    return page.render(request, "_status.html", items=items)


async def login_page(request: Request) -> Response:
    page: Page = request.app.state.page
    wait = page.throttle.wait_s(_client_host(request))
    return page.render(request, "login.html",
                       error=wait_message(page.gettext(request), wait) if wait > 0 else None)


async def login(request: Request) -> Response:
    """Sign in as one's own account, throttled (terminal/web/signin_throttle.py): during a wait the
    PIN is not compared; the hash is compared off the event loop (argon2 takes a moment)."""
    page: Page = request.app.state.page
    form = await read_form(request)
    operator, pin = clerks.normal_staff_no(form.get("operator")), form.get("pin")
    known = await asyncio.to_thread(page.accounts.get, operator) if operator else None
    outcome = await asyncio.to_thread(  # decided and counted in one step
        page.throttle.attempt, _client_host(request),
        lambda: bool(operator and pin) and page.accounts.verify(operator, pin) is not None,
        account=known.staff_no if known else None)
    if outcome.changes:
        try:
            await asyncio.to_thread(signin_throttle.save, page.service.store, outcome.changes)
        except Exception as err:  # kept in memory all the same; a sign-in must not fail on it
            log.warning("failed sign-ins not stored: %s", type(err).__name__)
    if not outcome.ok:
        _ = page.gettext(request)
        if outcome.wait_s <= 0:
            return page.render(request, "login.html", error=_("Staff number or PIN is wrong."),
                               staff_no=operator)
        return page.render(request, "login.html", code=429,
                           headers={"Retry-After": str(math.ceil(outcome.wait_s))},
                           error=wait_message(_, outcome.wait_s), staff_no=operator)
    response = redirect(request, "/")
    response.set_cookie(SESSION_COOKIE, page.sessions.open(operator), httponly=True,
                        samesite="strict")
    return response


def _client_host(request: Request) -> str | None:
    return request.client.host if request.client else None  # the TCP peer (no proxy headers)


def wait_message(_: Callable[[str], str], wait_s: float) -> str:
    """What the clerk sees while sign-in is refused: how long to wait, in seconds or minutes."""
    seconds = math.ceil(wait_s)
    if seconds < 120:
        return _("Too many wrong PINs: wait {n} s, then try again.").format(n=seconds)
    return _("Too many wrong PINs: wait {n} min, then try again.").format(
        n=math.ceil(seconds / 60))


async def lock(request: Request) -> Response:
    page: Page = request.app.state.page
    page.sessions.close(request.cookies.get(SESSION_COOKIE))
    return redirect(request, "/login")


async def language(request: Request) -> Response:
    """Switch the language and go back to the page the clerk was on (never to another site)."""
    locale = request.path_params["locale"]
    response = redirect(request, guard.local_path(request.headers.get("referer"),
                                                  request.headers.get("host", "")))
    if locale in i18n.LOCALES:
        response.set_cookie(LANG_COOKIE, locale, samesite="strict", max_age=365 * 86400)
    return response


async def healthz(request: Request) -> Response:
    page: Page = request.app.state.page
    health = await asyncio.to_thread(page.service.health)
    scanner = page.service.scanner
    return JSONResponse({"reader": health.reader_state, "backlog": health.backlog,
                         "server_reachable": health.server_reachable,
                         "listeners": page.service.hub.listeners,
                         "scanner": scanner.connected.is_set() if scanner else None})


async def sim_control(request: Request) -> Response:
    """Simulator hooks (only with --simulate): the reader's place / remove / unplug / replug /
    cycle, and advance (moves the sign-in waits' clock on by `seconds`)."""
    page: Page = request.app.state.page
    sim = page.service.sim
    if sim is None:
        return JSONResponse({"error": "not simulating"}, status_code=404)
    action = request.path_params["action"]
    body = json.loads(await request.body() or b"{}")
    if action == "place":
        if "fields" in body:
            card = SimCard.from_fields(body["fields"], label=body.get("label", "custom"))
        else:
            cards = load_sim_cards()
            card = cards[int(body.get("index", 0)) % len(cards)]
        await asyncio.to_thread(sim.place, card)
    elif action == "remove":
        await asyncio.to_thread(sim.remove)
    elif action == "unplug":
        await asyncio.to_thread(sim.unplug)
    elif action == "replug":
        await asyncio.to_thread(sim.replug)
    elif action == "cycle":
        cards = load_sim_cards()
        await asyncio.to_thread(sim.cycle, cards, float(body.get("present", 3.0)),
                                float(body.get("absent", 3.0)))
    elif action == "advance" and page.sim_clock is not None:  # sign-in waits end sooner
        try:
            page.sim_clock.advance(float(body["seconds"]))
        except (KeyError, TypeError, ValueError) as err:
            return JSONResponse({"error": f"advance: {err}"}, status_code=400)
    else:
        return JSONResponse({"error": "unknown action"}, status_code=404)
    return JSONResponse({"ok": True, "reads": sim.reads})


def create_app(service: TerminalService, listen_host: str | None = None) -> Starlette:
    """`listen_host`: the address uvicorn binds (`--host`), a name the page answers to."""
    page = Page(service)
    hosts = guard.allowed_hosts(service.config["web.allowed_hosts"], service.config["web.host"],
                                listen_host)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.hub.bind(asyncio.get_running_loop())
        beat = liveness.Heartbeat("event loop", EVENT_LOOP_BOUND_S)
        beating = asyncio.create_task(_beat(beat))
        watchdog = liveness.Watchdog([beat.loop, *service.loops()])
        sdnotify.notify("READY=1\nSTATUS=front desk page up")
        watchdog.start()
        try:
            yield
        finally:
            sdnotify.notify("STOPPING=1")
            watchdog.stop()
            beating.cancel()

    async def failed(request: Request, err: Exception) -> Response:
        # The clerk must never see a trace; log the class only (the text may be personal).
        log.error("page %s failed: %s", request.url.path, type(err).__name__)
        _ = page.gettext(request)
        return page.render(request, "_error.html", code=500,
                           message=_("Something went wrong. Try again; if it keeps "
                                     "happening, call the technician."))

    static = str(resources.files("terminal.web").joinpath("static"))
    routes = [
        Route("/", routes_desk.checkin_page),
        Route("/party", routes_desk.party_fragment),
        Route("/party/remove/{guest_id}", routes_desk.remove_guest, methods=["POST"]),
        Route("/party/clear", routes_desk.clear_party, methods=["POST"]),
        Route("/party/guardian/{guest_id}", routes_desk.arm_guardian, methods=["POST"]),
        Route("/party/photo/{guest_id}", routes_desk.photo),
        Route("/checkin", routes_desk.confirm, methods=["POST"]),
        Route("/manual", routes_desk.manual_page),
        Route("/manual", routes_desk.manual_add, methods=["POST"]),
        Route("/manual/fields", routes_desk.manual_fields),
        Route("/inhouse", routes_records.in_house),
        Route("/checkout/guest", routes_records.check_out_guest, methods=["POST"]),
        Route("/checkout/room", routes_records.check_out_room, methods=["POST"]),
        Route("/checkout/group", routes_records.check_out_group, methods=["POST"]),
        Route("/checkout/undo", routes_records.undo_check_out, methods=["POST"]),
        Route("/records", routes_records.history),
        Route("/stay/{stay_id}", routes_records.stay_detail),
        Route("/stay/{stay_id}/amend", routes_records.amend, methods=["POST"]),
        Route("/stay/{stay_id}/void", routes_records.void, methods=["POST"]),
        Route("/clerks", routes_clerks.clerks_page),
        Route("/clerks/{action:str}", routes_clerks.change, methods=["POST"]),
        Route("/selftest", selftest.selftest_page),
        Route("/selftest/run", selftest.selftest_run, methods=["POST"]),
        Route("/events", events),
        Route("/status", status_fragment),
        Route("/login", login_page),
        Route("/login", login, methods=["POST"]),
        Route("/lock", lock, methods=["POST"]),
        Route("/lang/{locale:str}", language),
        Route("/healthz", healthz),
        Route("/local/health", routes_local.local_health),  # loopback only: `anju doctor`
        Route("/local/update", routes_local.local_update),  # loopback only: the updater
        Route("/scan/image", routes_scan.upload, methods=["POST"]),
        Route("/sim/scan", routes_scan.sim_scan, methods=["POST"]),
        Route("/sim/{action:str}", sim_control, methods=["POST"]),
        Mount("/static", StaticFiles(directory=static), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={Exception: failed},
                    middleware=[Middleware(guard.Guard, page=page, session_cookie=SESSION_COOKIE,
                                           hosts=hosts),
                                Middleware(GZipMiddleware, minimum_size=1000),
                                Middleware(SignedIn, page=page)])
    app.state.page = page
    return app


class SignedIn:
    """ASGI middleware: with a clerk PIN, every page but the public ones needs a session."""

    def __init__(self, app: ASGIApp, page: Page) -> None:
        self.app = app
        self.page = page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] == "http" and self.page.pin_required
                and not scope["path"].startswith(PUBLIC)):
            request = Request(scope)
            background = scope["path"] in BACKGROUND
            if self.page.operator(request, touch=not background) is None:
                await redirect(request, "/login")(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _beat(beat: liveness.Heartbeat) -> None:
    """The event loop's heartbeat: a loop stuck in a handler stops it (and the pings)."""
    while True:
        beat.beat()
        await asyncio.sleep(1.0)
