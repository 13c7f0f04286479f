"""`/users`: supervisors and administrators manage accounts from the browser (the same acts as
`anju central user ...`), within their scope (central/accounts/admin.py): roles below their own,
their own district when they have one. Every change is a POST carrying the session's CSRF token
and writes an audit row. Password resets and API tokens for another user are for
administrators only; the new password or token is shown once, on the page that answers the
POST, to the administrator who asked. A supervisor never sees another user's password. A user
locked out by failed logins is shown so, with a button to lift the lock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from central import clock
from central.accounts import admin, principals
from central.errors import AdminError, ForbiddenError
from central.web import guard
from sync.fields import format_utc

Render = Callable[..., HTMLResponse]
FormReader = Callable[[Request], Any]
ROLE_NAMES = {"officer": "民警", "supervisor": "主管", "technician": "技术员",
              "administrator": "管理员"}


def install(app: FastAPI, engine: Engine, render: Render, page: Callable[[Any], Any],
            form_of: FormReader, token_ttl: timedelta) -> None:
    async def supervisor(request: Request) -> principals.Principal:
        who = await run_in_threadpool(guard.principal, engine, request)
        who.require("users")
        return who

    async def show(who: principals.Principal, status: int = 200, **extra: Any) -> HTMLResponse:
        rows = await run_in_threadpool(admin.list_users, engine, who)
        for row in rows:
            until = row["locked_until_s"]
            row["locked_until"] = clock.show(format_utc(datetime.fromtimestamp(
                until, UTC)))[:16] if until else None
        grantable = [r for r in principals.ROLES if principals.RANK[r] < who.rank]
        return render("users.html", status, who=who, users=rows, roles=grantable,
                      role_names=ROLE_NAMES, credentials=who.can("credentials"),
                      **{"message": None, "password": None, "token": None, **extra})

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
        try:
            return await act(who, form)
        except ForbiddenError as err:
            return await show(who, 403, message=f"无权执行此操作：{err.message}")
        except AdminError as err:
            return await show(who, 400, message=f"操作失败：{err.message}")

    async def act(who: principals.Principal, form: Any) -> Response:
        action, name = form.get("action", ""), form.get("username", "").strip()

        def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            return run_in_threadpool(fn, engine, name, *args, by=who, **kwargs)

        if action == "add":
            password = await call(admin.add_user, form.get("role", ""), None,
                                  form.get("district") or None)
            return await show(who, message=f"已添加用户 {name}，初始密码只显示这一次：",
                              password=password)
        if action == "change":
            await call(admin.change_user, role=form.get("role") or None,
                       district=form.get("district") or None)
            return await show(who, message=f"已修改 {name} 的角色和辖区")
        if action == "reset":
            password = await call(admin.reset_password)
            return await show(who, message=f"已重置 {name} 的密码（其 API 令牌均已吊销），"
                              "只显示这一次：", password=password)
        if action == "unlock":
            await call(admin.unlock_login)
            return await show(who, message=f"已解除 {name} 的登录锁定")
        if action in ("disable", "enable"):
            await call(admin.set_disabled, action == "disable")
            done = "停用（其 API 令牌均已吊销）" if action == "disable" else "启用"
            return await show(who, message=f"已{done} {name}")
        if action == "token_issue":
            value, row = await call(admin.issue_api_token, ttl=token_ttl)
            return await show(who, message=f"已为 {name} 签发 API 令牌 {row['id']}（有效期至 "
                              f"{clock.show(row['expires_at'])[:16]}），只显示这一次：",
                              token=value)
        if action == "token_revoke":
            await call(admin.revoke_api_token, form.get("token", ""))
            return await show(who, message=f"已吊销 {name} 的 API 令牌 {form.get('token', '')}")
        return await show(who, 400, message="未知操作")
