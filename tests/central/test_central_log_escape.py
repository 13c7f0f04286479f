"""Log injection (issue 14, finding 7): a heartbeat's reader status is one of a few values, and
whatever a device or a user sends is escaped in the server log, so no line can be forged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import requests

from central.devices import heartbeat
from central.devices.authentication import Device
from central.logsafe import safe
from central.settings import Settings
from sync.body import encode_body
from sync.messages import READER_STATES, Heartbeat
from sync.protocol import SenderClock
from tests.central.central_helpers import Admin, assert_error, signed_post
from tests.central.police_helpers import Browser
from tests.central.serverproc import CentralServer

FORGED = "2025-03-01 10:00:00 WARNING central.devices.authentication: forged line"


def heartbeat_body(chain_device: str, site: str, reader_status: str) -> bytes:
    beat = Heartbeat(
        chain_device,
        site,
        SenderClock.system(),
        "1.4.0",
        0,
        None,
        reader_status,
        10**9,
        reader_detail="port /dev/ttyUSB0 (a detail is one line: the text rule)",
    )
    return encode_body(beat.to_json())


def test_a_reader_status_outside_its_values_is_refused_and_forges_no_log_line(
    central: Admin, server: CentralServer
) -> None:
    client = central.enrolled()
    creds = client.credentials
    assert creds is not None
    with requests.Session() as session:
        for status in (f"connected\n{FORGED}", "ok", "CONNECTED", ""):
            reply = signed_post(
                session,
                central.url,
                creds,
                "/api/v1/heartbeat",
                heartbeat_body(creds.device_id, creds.site_code, status),
            )
            error = assert_error(reply, 400, "invalid_field")
            assert error["field"] == "reader_status"
            assert "forged" not in error["message"]
        assert not central.rows("heartbeats", device_id=creds.device_id)
        for status in READER_STATES:  # every value the terminal sends is taken
            reply = signed_post(
                session,
                central.url,
                creds,
                "/api/v1/heartbeat",
                heartbeat_body(creds.device_id, creds.site_code, status),
            )
            assert reply.status_code == 200, reply.text
    stored = central.rows("heartbeats", device_id=creds.device_id)
    assert sorted(r["reader_status"] for r in stored) == sorted(READER_STATES)
    assert "forged line" not in server.log_path.read_text("utf-8", errors="replace")


def test_the_heartbeat_log_line_escapes_what_the_device_sent(
    central: Admin, caplog: pytest.LogCaptureFixture
) -> None:
    # Past the enum (a Heartbeat built in code, not parsed): the log line still cannot be forged.
    client = central.enrolled()
    creds = client.credentials
    assert creds is not None
    beat = Heartbeat(
        creds.device_id,
        creds.site_code,
        SenderClock.system(),
        "1.4.0",
        0,
        None,
        "ok\nWARNING forged",
        10**9,
    )  # fits the column (32)
    with caplog.at_level(logging.INFO, logger="central.devices.heartbeat"):
        heartbeat.record(
            central.engine,
            Device(creds.device_id, creds.site_code, False),
            beat,
            datetime.now(UTC),
            Settings(db_url=central.db_url),
        )
    (line,) = [r.getMessage() for r in caplog.records if r.name == "central.devices.heartbeat"]
    assert "\n" not in line and "reader ok\\nWARNING forged" in line


def test_a_newline_in_a_username_is_escaped_in_the_failed_login_log(
    central: Admin, server: CentralServer
) -> None:
    browser = Browser(central.url)
    # A control character is refused before the login is tried (the text rule, finding 4)...
    assert browser.login("\nforged", "wrong password").status_code == 400
    # ...and a line separator, which passes that rule, is escaped where the login is logged.
    reply = browser.login("\u2028forged", "wrong password")
    assert reply.status_code == 401
    log = server.log_path.read_text("utf-8", errors="replace")
    assert "failed login for \\u2028****** from" in log
    assert "\u2028" not in log  # raw, some log viewers would have started a line here


def test_safe_escapes_control_characters_and_keeps_other_text() -> None:
    assert safe("4401040001-8f3a0d51") == "4401040001-8f3a0d51"
    assert safe("张三 room 203") == "张三 room 203"
    assert safe(f"ok\n{FORGED}") == f"ok\\n{FORGED}"
    assert safe("a\r\tb\x00\x1b[2J\x7f\x85") == "a\\r\\tb\\x00\\x1b[2J\\x7f\\x85"
    assert safe("x\u2028y\u2029z\u202eevil") == "x\\u2028y\\u2029z\\u202eevil"
    assert safe("lone \ud800 surrogate") == "lone \\ud800 surrogate"
    assert safe("back\\nslash") == "back\\\\nslash"  # not mistaken for an escaped newline
    assert safe(None) == "None" and safe(ValueError("bad\nthing")) == "bad\\nthing"
    assert "\n" not in safe("".join(chr(c) for c in range(0x20)))
