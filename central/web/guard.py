"""Who is asking, for the pages: the session cookie, CSRF tokens, and the cookie attributes.

Cookies are HttpOnly, SameSite=Strict and Secure (the server runs behind TLS; browsers also
keep Secure cookies for http://localhost and 127.0.0.1, which is what the tests use). Every act
that shows personal data or changes state carries the session's CSRF token as a parameter, so a
link or form planted on another site cannot make an officer's browser search or log out.
The login form has its own double-submit token, as there is no session yet.
"""

from __future__ import annotations

import hmac
import secrets

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import Engine

from central.accounts.principals import Principal, session_principal
from central.errors import AuthError, CentralError

SESSION_COOKIE = "anju_session"
LOGIN_CSRF_COOKIE = "anju_login_csrf"


class CsrfError(CentralError):
    status, code = 403, "csrf"


class LoginRequiredError(AuthError):
    code = "login_required"


def principal(engine: Engine, request: Request) -> Principal:
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise LoginRequiredError("not logged in")
    try:
        return session_principal(engine, cookie)
    except AuthError as err:
        raise LoginRequiredError(err.message) from err


def check_csrf(who: Principal, supplied: str | None) -> None:
    if not who.csrf_token or not supplied or not hmac.compare_digest(who.csrf_token, supplied):
        raise CsrfError("the form's security token is missing or stale: reload the page")


def set_cookie(response: Response, name: str, value: str, *, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, secure=True,
                        samesite="strict", path="/")


def new_login_token() -> str:
    return secrets.token_urlsafe(24)
