"""`/users`: supervisors and administrators manage accounts from the browser (the same acts as
`anju central user ...`). Every change is a POST carrying the session's CSRF token; a generated
password is shown once, on the page that answers the POST. A user locked out by failed logins is
shown so, with a button to lift the lock (as `anju central user unlock`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from central import accounts
from central.errors import AdminError
from central.police import beijing
from central.web import guard
from sync.fields import format_utc

Render = Callable[..., HTMLResponse]
FormReader = Callable[[Request], Any]


def install(app: FastAPI, engine: Engine, render: Render, page: Callable[[Any], Any],
            form_of: FormReader) -> None:
    async def supervisor(request: Request) -> accounts.Principal:
        who = await run_in_threadpool(guard.principal, engine, request)
        who.require("users")
        return who

    async def show(who: accounts.Principal, status: int = 200, **extra: Any) -> HTMLResponse:
        rows = await run_in_threadpool(accounts.list_users, engine)
        for row in rows:
            until = row["locked_until_s"]
            row["locked_until"] = beijing.show(format_utc(datetime.fromtimestamp(
                until, UTC)))[:16] if until else None
        return render("users.html", status, who=who, users=rows,
                      roles=list(accounts.ROLES), **{"message": None, "password": None,
                                                     **extra})

    @app.get("/users", include_in_schema=False)
    @page
    async def users_page(request: Request) -> Response:
        return await show(await supervisor(request))

    @app.post("/users", include_in_schema=False)
    @page
    async def users_change(request: Request) -> Response:
        who = await supervisor(request)
        form = await form_of(request)
        guard.check_csrf(who, form.get("csrf"))
        action, name = form.get("action", ""), form.get("username", "").strip()
        try:
            if action == "add":
                password = await run_in_threadpool(
                    accounts.add_user, engine, name, form.get("role", ""), None,
                    form.get("district") or None)
                return await show(who, message=f"已添加用户 {name}，初始密码只显示这一次：",
                                  password=password)
            if action == "reset":
                password = await run_in_threadpool(accounts.reset_password, engine, name)
                return await show(who, message=f"已重置 {name} 的密码，只显示这一次：",
                                  password=password)
            if action == "unlock":
                await run_in_threadpool(accounts.unlock_login, engine, name)
                return await show(who, message=f"已解除 {name} 的登录锁定")
            if action in ("disable", "enable"):
                await run_in_threadpool(accounts.set_disabled, engine, name, action == "disable")
                done = "停用" if action == "disable" else "启用"
                return await show(who, message=f"已{done} {name}")
        except AdminError as err:
            return await show(who, 400, message=f"操作失败：{err.message}")
        return await show(who, 400, message="未知操作")
