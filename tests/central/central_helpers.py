"""Helpers for central tests: an admin handle on the server's database, and the one assertion
of the error shape that every endpoint shares."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import Engine, select

from central.db import tables
from central.db.engine import make_engine
from central.devices import enrolment
from sync import signing
from sync.body import encode_body
from sync.client import Credentials, SyncClient
from sync.protocol import Batch, SenderClock, WireEvent
from tests.sync.wire_helpers import EventChain


@dataclass(frozen=True)
class Reply:
    """A finished HTTP answer as plain data: keeps no socket alive, whoever holds it."""

    status_code: int
    headers: requests.structures.CaseInsensitiveDict[str]
    text: str
    content: bytes = b""  # the body as sent (an XLSX export is not text)

    def json(self) -> Any:
        return json.loads(self.text)


def fetch(method: str, url: str, **kwargs: Any) -> Reply:
    """One request on a fresh session, closed before returning."""
    with requests.Session() as session, session.request(method, url, timeout=10,
                                                         **kwargs) as response:
        return Reply(response.status_code, response.headers, response.text)


def assert_error(response: requests.Response | Reply, status: int, code: str) -> dict[str, Any]:
    """Every error answer: the status, JSON, exactly {"error": {"code", "message", ...}}."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"], body
    error = body["error"]
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"], error
    assert "x-anju-server-time" in response.headers
    return error


class Admin:
    """What a test needs beside HTTP: sites, tokens, enrolled clients, and reading the DB.

    The engine closes each connection after use, so no descriptor outlives a test.
    """

    def __init__(self, db_url: str, server_url: str) -> None:
        self.db_url = db_url
        self.url = server_url
        self.engine: Engine = make_engine(db_url, pooled=False)
        self._clients: list[SyncClient] = []

    def __enter__(self) -> Admin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for client in self._clients:
            client.close()
        self.engine.dispose()

    def site(self, name: str = "测试旅馆") -> str:
        code = "T" + secrets.token_hex(5)
        enrolment.add_site(self.engine, code, name)
        return code

    def token(self, site: str, ttl: timedelta = timedelta(hours=1),
              now: datetime | None = None) -> str:
        return enrolment.issue_token(self.engine, site, ttl, now=now)[0]

    def client(self, **kwargs: Any) -> SyncClient:
        client = SyncClient(self.url, **kwargs)
        self._clients.append(client)
        return client

    def enrolled(self, site: str | None = None, **kwargs: Any) -> SyncClient:
        client = self.client(**kwargs)
        client.enroll(self.token(site or self.site()), str(uuid.uuid4()), "test-1.0")
        return client

    def device(self, site: str | None = None, **kwargs: Any) -> tuple[SyncClient, EventChain]:
        """An enrolled client and a chain builder for its device."""
        client = self.enrolled(site, **kwargs)
        assert client.credentials is not None
        return client, EventChain(client.credentials.device_id, client.credentials.site_code)

    def rows(self, table: str, **where: Any) -> list[dict[str, Any]]:
        t = tables.metadata.tables[table]
        query = select(t).where(*(t.c[k] == v for k, v in where.items()))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def faults(self, device_id: str, kind: str | None = None, *, open_only: bool = False
               ) -> list[tuple[str, int, int]]:
        rows = self.rows("chain_faults", device_id=device_id)
        return sorted((r["kind"], r["first_sequence"], r["last_sequence"]) for r in rows
                      if (kind is None or r["kind"] == kind)
                      and not (open_only and r["resolved_at"]))


def signed_post(session: requests.Session, base_url: str, creds: Credentials, path: str,
                body: bytes, *, timestamp: float | None = None, nonce: str | None = None,
                secret: str | None = None, gzip: bool = True) -> requests.Response:
    """One hand-signed POST, for tests that replay, tamper or skew what the client would not."""
    headers = signing.sign_headers(creds.device_id, secret or creds.secret, "POST", path, body,
                                   timestamp=int(time.time() if timestamp is None else timestamp),
                                   nonce=nonce)
    headers["Content-Type"] = "application/json"
    if gzip:
        headers["Content-Encoding"] = "gzip"
    return session.post(base_url + path, data=body, headers=headers, timeout=10)


def signed_head(creds: Credentials, path: str, body: bytes, *, secret: str | None = None,
                timestamp: float | None = None) -> bytes:
    """The request line and headers of a signed POST of `body` (the body itself not included),
    for tests that send the body slowly, partly or never over a raw socket."""
    headers = signing.sign_headers(creds.device_id, secret or creds.secret, "POST", path, body,
                                   timestamp=int(time.time() if timestamp is None else timestamp))
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
             "Content-Encoding: gzip", f"Content-Length: {len(body)}",
             *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def batch_body(creds: Credentials, events: list[WireEvent], *, site: str | None = None,
               device: str | None = None) -> bytes:
    batch = Batch(device or creds.device_id, site or creds.site_code, SenderClock.system(),
                  tuple(events))
    return encode_body(batch.to_json())
