"""The police pages: login, search, stay, co-stay, export, audit log, fleet.

    GET  /                 -> /search (officers) or /fleet (technicians)
    GET  /login  POST /login  POST /logout
    GET  /search           the form; with a reason and filters: audited results
    GET  /stay/{id}        audited view: every registered field in words, findings with
                           override reasons, history, provenance (prints as a record)
    GET  /stay/{id}/costay/{guest}   audited co-stay
    GET  /stay/{id}/photo/{guest}    audited card photo, PNG (central/web/photos.py)
    GET  /export           audited export of the search: XLSX, or CSV with format=csv
                           (UTF-8 with BOM; /export.csv too)
    GET  /audit            supervisors: the audit log in words, filtered (user, action, days,
                           reason text), and whether its chain verifies
    GET  /fleet            sites and devices, silent first; software rollouts' progress;
                           registrations per Beijing day (SVG);
                           a user with a district sees only its sites
    GET  /users  POST /users   supervisors, administrators: accounts in scope (central/web/users.py)

Errors on pages are pages (Chinese); not logged in -> 303 to /login.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from central import clock, fleet, rollout
from central.accounts import audit, principals
from central.accounts.login_throttle import LoginThrottle, ThrottledError
from central.db.failures import is_unavailable, unavailable
from central.db.tables import site_districts, sites
from central.errors import AuthError, BadRequestError, CentralError
from central.police import acts, audit_view, words
from central.police import search as search_module
from central.serving.body_limit import read_limited
from central.settings import Settings
from central.web import guard, photos, users
from central.web.chart import bar_chart
from sync.fields import format_utc, text_problem

HERE = Path(__file__).parent
AUDIT_PAGE = 200
PageHandler = Callable[..., Awaitable[Response]]
_MESSAGES = {"missing_reason": "请填写查询事由（案件编号或说明）。",
             "forbidden": "您的角色无权访问此页面。",
             "csrf": "页面安全令牌无效，请刷新后重试。", "not_found": "未找到该记录。",
             "query_timeout": "查询超时，请缩小查询范围。",
             "photo_not_configured": "未配置照片解码。", "photo_undecodable": "照片无法解码。",
             "missing_field": "请至少填写证件号码、姓名、场所或日期之一。",
             "overloaded": "服务器繁忙，请稍后再试。", "body_timeout": "请求超时，请重试。",
             "body_too_large": "提交的内容过大。",
             "database_unavailable": "数据库暂时无响应，请稍后重试。"}
FORM_BYTES = 16 * 1024
_SEARCH_KEYS = ("document", "name", "from", "to", "site", "room", "card_type", "nationality",
                "reason")


def templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(("html",)))
    env.filters["bj"] = clock.show
    env.globals["choices"] = words.choices
    env.filters["doctype"] = words.document_type
    env.filters["country"] = words.country
    env.filters["kind"] = lambda kind: words.KIND.get(kind, kind)
    env.filters["status"] = lambda status: words.STATUS.get(status, status)
    env.filters["sync_state"] = lambda code: words.SYNC_STATE.get(code, code)
    env.filters["refused"] = lambda code: words.REFUSED.get(code, code)
    env.filters["doctor_class"] = lambda code: words.DOCTOR_CLASS.get(code, code)
    env.filters["time_source"] = lambda source: words.TIME_SOURCE.get(source, (source, ""))
    env.filters["guest_names"] = lambda ids, guests: "、".join(
        next((g["name"] or "" for g in guests if g["guest_id"] == i), "旅客") for i in ids)
    env.filters["urlencode_params"] = lambda params: urlencode(
        {k: v for k, v in params.items() if v not in (None, "")})
    return env


def install(app: FastAPI, engine: Engine, settings: Settings) -> None:
    env = templates()
    policy = fleet.FleetPolicy(settings.silent_after_s, settings.backlog_alarm_s)
    timeout = settings.query_timeout_s
    rule = settings.reason_rule()
    throttle = LoginThrottle(engine, settings.throttle_policy())
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
        return HTMLResponse(env.get_template(name).render(**context), status_code=status,
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                                     "X-Frame-Options": "DENY"})

    def page(handler: PageHandler) -> PageHandler:
        @wraps(handler)
        async def wrapped(request: Request, *args: Any, **kwargs: Any) -> Response:
            try:
                return await handler(request, *args, **kwargs)
            except guard.LoginRequiredError:
                return RedirectResponse("/login", status_code=303)
            except SQLAlchemyError as err:
                if not is_unavailable(err):
                    raise
                typed = unavailable(err, settings.db_retry_after_s)
                app.state.stats.db_unavailable += 1
                response = render("error.html", typed.status, message=_MESSAGES[typed.code],
                                  code=typed.code, who=None)
                response.headers["Retry-After"] = str(typed.detail["retry_after_s"])
                return response
            except CentralError as err:
                return render("error.html", err.status, message=_message(err), code=err.code,
                              who=None)
        return wrapped

    async def who_of(request: Request) -> principals.Principal:
        return await run_in_threadpool(guard.principal, engine, request)

    users.install(app, engine, render, page, _form,
                  timedelta(seconds=settings.api_token_ttl_s))
    decoding = photos.install(app, engine, settings, page, who_of)

    @app.get("/", include_in_schema=False)
    @page
    async def home(request: Request) -> Response:
        who = await who_of(request)
        return RedirectResponse("/search" if who.can("search") else "/fleet", status_code=303)

    @app.get("/login", include_in_schema=False)
    async def login_form(request: Request) -> Response:
        token = guard.new_login_token()
        response = render("login.html", csrf=token, error=None, who=None)
        guard.set_cookie(response, guard.LOGIN_CSRF_COOKIE, token, max_age=3600)
        return response

    @app.post("/login", include_in_schema=False)
    @page
    async def login(request: Request) -> Response:
        form = await _form(request)
        expected = request.cookies.get(guard.LOGIN_CSRF_COOKIE, "")
        if not expected or form.get("csrf") != expected:
            raise guard.CsrfError("login form token mismatch")
        host = request.client.host if request.client else None
        try:
            cookie, _who = await run_in_threadpool(principals.login, engine,
                                                   form.get("username", ""),
                                                   form.get("password", ""), throttle, host)
        except ThrottledError as err:
            response = render("login.html", 429, csrf=expected, error=_throttled(err), who=None)
            response.headers["Retry-After"] = str(err.detail["retry_after_s"])
            return response
        except AuthError as err:
            message = "账号已停用。" if err.code == "account_disabled" else "用户名或密码错误。"
            response = render("login.html", 401, csrf=expected, error=message, who=None)
            return response
        response = RedirectResponse("/", status_code=303)
        guard.set_cookie(response, guard.SESSION_COOKIE, cookie)
        response.delete_cookie(guard.LOGIN_CSRF_COOKIE, path="/")
        return response

    @app.post("/logout", include_in_schema=False)
    @page
    async def logout(request: Request) -> Response:
        who = await who_of(request)
        guard.check_csrf(who, (await _form(request)).get("csrf"))
        await run_in_threadpool(principals.logout, engine, request.cookies[guard.SESSION_COOKIE])
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(guard.SESSION_COOKIE, path="/")
        return response

    @app.get("/search", include_in_schema=False)
    @page
    async def search(request: Request) -> Response:
        who = await who_of(request)
        who.require("search")
        params = {k: request.query_params.get(k, "") for k in (*_SEARCH_KEYS, "page")}
        known_sites = await run_in_threadpool(_site_choices, engine, who)
        if not any(params[k] for k in _SEARCH_KEYS):
            return render("search.html", who=who, params=params, result=None, error=None,
                          site_choices=known_sites)
        guard.check_csrf(who, request.query_params.get("csrf"))
        try:
            _query, result = await run_in_threadpool(
                lambda: acts.run_search(engine, who, params, timeout_s=timeout, rule=rule,
                                           read_engine=app.state.read_engine,
                                           stale_after_s=settings.read_db_stale_after_s))
        except CentralError as err:
            if err.status != 400:
                raise
            return render("search.html", 400, who=who, params=params, result=None,
                          error=_message(err), site_choices=known_sites)
        return render("search.html", who=who, params=params, result=result, error=None,
                      site_choices=known_sites)

    @app.get("/export", include_in_schema=False)
    @app.get("/export.csv", include_in_schema=False)
    @page
    async def export(request: Request) -> Response:
        """The current search as XLSX (default) or CSV (`format=csv`; /export.csv is the old
        address of the CSV), streamed from a temporary file."""
        who = await who_of(request)
        guard.check_csrf(who, request.query_params.get("csrf"))
        params = dict(request.query_params)
        if request.url.path.endswith(".csv"):
            params.setdefault("format", "csv")
        out, media, filename = await run_in_threadpool(
            lambda: acts.export_file(engine, who, params, timeout, rule,
                                        read_engine=app.state.read_engine))

        def chunks() -> Iterator[bytes]:
            with out:
                while block := out.read(64 * 1024):
                    yield block

        return StreamingResponse(iterate_in_threadpool(chunks()), media_type=media, headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store"})

    @app.get("/stay/{stay_id}", include_in_schema=False)
    @page
    async def stay(request: Request, stay_id: str) -> Response:
        who = await who_of(request)
        guard.check_csrf(who, request.query_params.get("csrf"))
        reason = request.query_params.get("reason")
        found = await run_in_threadpool(
            lambda: acts.view_stay(engine, who, stay_id, reason, timeout, rule=rule))
        shown = await run_in_threadpool(decoding.states, found["photos"])
        return render("stay.html", who=who, stay=found, reason=reason, photos=shown)

    @app.get("/stay/{stay_id}/costay/{guest_id}", include_in_schema=False)
    @page
    async def costay(request: Request, stay_id: str, guest_id: str) -> Response:
        who = await who_of(request)
        guard.check_csrf(who, request.query_params.get("csrf"))
        reason = request.query_params.get("reason")
        result = await run_in_threadpool(acts.co_stay, engine, who, stay_id, guest_id,
                                         reason, timeout, rule)
        return render("costay.html", who=who, result=result, reason=reason)

    @app.get("/audit", include_in_schema=False)
    @page
    async def audit_page(request: Request) -> Response:
        who = await who_of(request)
        who.require("audit")
        params = {k: request.query_params.get(k, "").strip()
                  for k in ("user", "action", "from", "to", "reason", "before")}
        for key in ("from", "to"):
            if params[key] and not search_module.valid_day(params[key]):
                params[key] = ""
        before = int(params["before"]) if params["before"].isdigit() else None
        where = audit.AuditFilter(params["user"] or None, params["action"] or None,
                                  params["from"] or None, params["to"] or None,
                                  params["reason"] or None)
        rows = await run_in_threadpool(
            lambda: audit.rows(engine, limit=AUDIT_PAGE, before_id=before, where=where))
        shown = await run_in_threadpool(audit_view.render, engine, rows)
        chain = await run_in_threadpool(audit.verify, engine)
        older = rows[-1]["id"] if len(rows) == AUDIT_PAGE else None
        return render("audit.html", who=who, rows=shown, chain=chain, params=params,
                      actions=sorted(words.ACTION.items(), key=lambda kv: kv[0]), older=older)

    @app.get("/fleet", include_in_schema=False)
    @page
    async def fleet_page(request: Request) -> Response:
        who = await who_of(request)
        who.require("fleet")
        site = request.query_params.get("site") or None
        district = request.query_params.get("district") or who.district
        await run_in_threadpool(fleet.check_scope, engine, who.district, site, district)
        rows = await run_in_threadpool(
            lambda: fleet.fleet(engine, policy, district=district))
        points = await run_in_threadpool(
            lambda: fleet.daily_registrations(engine, 30, site=site, district=district))
        chart = bar_chart(points, f"近30天每日登记数 {site or district or '全部'}")
        rollouts = await run_in_threadpool(rollout.progress, engine, district)
        updates = await run_in_threadpool(rollout.reports, engine)
        return render("fleet.html", who=who, rows=rows, chart=chart, site=site,
                      district=district, policy=policy, total=sum(n for _, n in points),
                      rollouts=rollouts, updates=updates)


def _site_choices(engine: Engine, who: principals.Principal) -> list[tuple[str, str]]:
    """(code, name) of the sites the user may search, for the site field's suggestions."""
    query = select(sites.c.code, sites.c.name).order_by(sites.c.name)
    if who.district is not None:
        query = query.where(sites.c.code.in_(select(site_districts.c.site_code).where(
            site_districts.c.district == who.district)))
    with engine.connect() as conn:
        return [(code, name) for code, name in conn.execute(query)]


def _message(err: CentralError) -> str:
    if err.code == "weak_reason":
        rule = err.detail.get("rule", "")
        return f"查询事由过于简单（如“核查”）：请填写案件编号或具体说明，{rule}。"
    return _MESSAGES.get(err.code, err.message)


def _throttled(err: ThrottledError) -> str:
    """The same words whether or not the user exists: when, in Beijing time, to try again."""
    minute_after = -(-int(err.until_s) // 60) * 60  # rounded up: not refused at that minute
    until = clock.show(format_utc(datetime.fromtimestamp(minute_after, UTC)))[:16]
    minutes = -(-int(err.detail["retry_after_s"]) // 60)
    return f"登录失败次数过多，已暂时锁定。请于 {until}（北京时间，约 {minutes} 分钟后）再试。"


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form body (small; parsed here so the server needs no multipart library).
    Refused as soon as it is known to be too large: never read whole first."""
    too_large = CentralError("form too large", code="body_too_large", status=413)
    body = await read_limited(request, FORM_BYTES, too_large)
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    form = {k: v[0] for k, v in parsed.items()}
    for name, value in form.items():  # a NUL would reach the database (PostgreSQL: a 500)
        if text_problem(name) or text_problem(value):
            raise BadRequestError("a form field holds a control character",
                                  code="invalid_parameter")
    return form
