"""Helpers for police-side tests: synthetic identities, police users, and a browser-like client.

Identities are invented: names from a small list, ID numbers with a valid GB 11643-1999 check
character computed here (tests never import drivers/; the server does not check it, but realistic
data keeps the searches honest).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import requests
from sqlalchemy import Engine

from central.accounts import admin
from tests.central.central_helpers import Reply

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
OPERATOR = admin.operator()  # the CLI's actor: sets up users and tokens for tests


def gb11643(first17: str) -> str:
    """The 18-character resident ID number: 17 digits plus the ISO 7064 MOD 11-2 check."""
    assert len(first17) == 17 and first17.isdigit()
    return first17 + _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def id_number(region: str = "440104", birth: str | None = None, serial: int | None = None
              ) -> str:
    """A valid number; random birth date and serial unless given (unique enough per test)."""
    if birth is None:
        birth = (date(1950, 1, 1) + timedelta(days=secrets.randbelow(365 * 55))).strftime("%Y%m%d")
    serial = secrets.randbelow(1000) if serial is None else serial
    return gb11643(f"{region}{birth}{serial % 1000:03d}")


def unique_name(prefix: str = "测") -> str:
    """A Chinese-looking name no other test uses (so searches see only this test's data)."""
    return prefix + "".join(chr(0x4E00 + secrets.randbelow(0x5000)) for _ in range(3))


@dataclass
class Browser:
    """A logged-in (or not) browser: keeps the Secure cookies itself, since `requests` does not
    send Secure cookies over plain http, while browsers do on loopback."""

    base: str
    cookies: dict[str, str] = field(default_factory=dict)
    csrf: str | None = None

    def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        headers = kwargs.pop("headers", {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        with requests.Session() as session, session.request(
                method, self.base + path, headers=headers, timeout=15, allow_redirects=False,
                **kwargs) as response:
            for cookie in response.cookies:
                if cookie.value and not cookie.is_expired():
                    self.cookies[cookie.name] = cookie.value
                else:
                    self.cookies.pop(cookie.name, None)
            for raw in response.raw.headers.getlist("set-cookie"):
                if "max-age=0" in raw.lower():
                    self.cookies.pop(raw.split("=", 1)[0], None)
            return Reply(response.status_code, response.headers, response.text,
                         response.content)

    def get(self, path: str, **params: Any) -> Reply:
        return self.request("GET", path, params=params or None)

    def login(self, username: str, password: str) -> Reply:
        form = self.get("/login")
        token = _CSRF.search(form.text)
        assert token, form.text
        reply = self.request("POST", "/login", data={
            "csrf": token.group(1), "username": username, "password": password})
        if reply.status_code == 303:
            home = self.get("/fleet")
            match = _CSRF.search(home.text)
            self.csrf = match.group(1) if match else None
        return reply

    def search(self, **params: Any) -> Reply:
        return self.get("/search", csrf=self.csrf, **params)


@dataclass
class PoliceUser:
    username: str
    password: str
    role: str


def make_user(engine: Engine, role: str, district: str | None = None) -> PoliceUser:
    name = f"{role[:3]}-{secrets.token_hex(4)}"
    password = "pw-" + secrets.token_hex(8)
    admin.add_user(engine, name, role, password, district, by=OPERATOR)
    return PoliceUser(name, password, role)


def logged_in(base: str, engine: Engine, role: str, district: str | None = None
              ) -> tuple[Browser, PoliceUser]:
    user = make_user(engine, role, district)
    browser = Browser(base)
    reply = browser.login(user.username, user.password)
    assert reply.status_code == 303, reply.text
    assert browser.csrf
    return browser, user


def api_token(engine: Engine, username: str) -> str:
    """A new API token of the user, issued as the CLI does."""
    return str(admin.issue_api_token(engine, username, by=OPERATOR)[0])


def stay_ids(html: str) -> list[str]:
    """Stay ids of a result table, in page order."""
    return re.findall(r'<tr class="stay" data-stay="([^"]+)"', html)
