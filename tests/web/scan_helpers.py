"""Helpers for the scan browser tests: wait for the simulated scanner, read stored payloads."""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from tests.web.desk import Desk

# A synthetic French passport (no real person): every field chosen for the test.
PASSPORT = {"surname": "MARTIN", "given_names": "CLAIRE ANNE", "document_number": "12AB34567",
            "nationality": "FRA", "issuing_state": "FRA", "birth_date": "880214", "sex": "F",
            "expiry_date": "320101"}


def wait_scanner(desk: Desk, listeners: int = 1) -> None:
    """pyserial flushes input on open: a scan sent before the port is open would be lost; and
    a scan is announced live only, so the page's event stream must be open too."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        health = requests.get(desk.url + "/healthz", timeout=2).json()
        if health.get("scanner") and health.get("listeners", 0) >= listeners:
            return
        time.sleep(0.05)
    raise AssertionError("the simulated scanner never connected")


def check_in_payload(desk: Desk) -> dict[str, Any]:
    rows = desk.query("SELECT payload FROM events WHERE kind = 'check_in'")
    assert len(rows) == 1
    payload = json.loads(rows[0][0])
    return payload.get("data", payload)
