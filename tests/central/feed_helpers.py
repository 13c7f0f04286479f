"""Helpers for the change-feed tests: issue feed tokens as the CLI does, and take pages."""

from __future__ import annotations

import json
from typing import Any

from central.feed import tokens
from tests.central.central_helpers import Admin, Reply, fetch
from tests.central.police_helpers import OPERATOR


def feed_token(central: Admin, system: str = "省旅馆业平台", **kwargs: Any) -> str:
    return tokens.issue(central.engine, system, by=OPERATOR, **kwargs)[0]


def page(central: Admin, token: str, after: str = "0", **params: Any) -> Reply:
    return fetch(
        "GET",
        central.url + "/api/v1/feed",
        headers={"Authorization": f"Bearer {token}"},
        params={"after": after, **params},
    )


def records(reply: Reply) -> list[dict[str, Any]]:
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("application/x-ndjson")
    lines = reply.text.splitlines()
    assert int(reply.headers["X-Anju-Feed-Count"]) == len(lines)
    return [json.loads(line) for line in lines]


def pull_all(
    central: Admin, token: str, after: str = "0", limit: int = 1000
) -> tuple[list[dict[str, Any]], str]:
    """Every record after the cursor, page after page; (records, the cursor to resume at)."""
    taken: list[dict[str, Any]] = []
    while True:
        reply = page(central, token, after, limit=limit)
        taken += records(reply)
        after = reply.headers["X-Anju-Feed-Last"]
        if reply.headers["X-Anju-Feed-More"] != "1":
            return taken, after
