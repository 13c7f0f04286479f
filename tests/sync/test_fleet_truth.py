"""The fleet page says why a terminal is not delivering (issue 12, section 2: "the heartbeat
carries the same state"), end to end: a provisioned terminal's real sync service against a real
central server, then the technician's fleet page and `anju central devices list --json`.

What can reach the server rides on the heartbeat (`sync_state`, since when): the server failing
on events, events rejected, a backlog not moving, disk low. What cannot (a wrong secret: no
heartbeat is accepted) is what the server saw itself: the refused requests beside "not heard
from since". A terminal the server hears nothing from is shown with the time it was last heard.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from central.cli.main import central as central_cli
from central.db import tables
from sync import errors
from sync.diagnosis import (
    BACKLOG_STUCK,
    EVENTS_REJECTED,
    OK,
    SERVER_FAILING,
    UNREACHABLE,
    delivery_state,
)
from sync.retry import RetryBudgetExhausted, RetryPolicy
from sync.uploader import Uploader
from terminal.cli import cli
from terminal.uploading.sync_service import SyncService
from tests.central.central_helpers import Admin
from tests.central.police_helpers import logged_in
from tests.central.serverproc import CentralServer
from tests.sync.test_uploader_bad_events import insert_raw
from tests.sync.test_uploader_unit import MemoryOutbox, events
from tests.sync.uploader_helpers import Terminal, provision, register
from tests.sync.wire_helpers import guest


@pytest.fixture
def admin(sqlite_central: CentralServer) -> Iterator[Admin]:
    """The session's server: each test's terminal has a device of its own, and the tests only
    look at that device's row of the fleet page."""
    with Admin(sqlite_central.db_url, sqlite_central.url) as adm:
        yield adm


@pytest.fixture
def terminal(admin: Admin, tmp_path: Path) -> Iterator[Terminal]:
    term = provision(admin, tmp_path)
    try:
        yield term
    finally:
        term.store.close()


def fleet_row(admin: Admin, device_id: str) -> tuple[str, str]:
    """(state, the row's HTML) of one device on the technician's fleet page."""
    browser, _user = logged_in(admin.url, admin.engine, "technician")
    page = browser.get("/fleet")
    assert page.status_code == 200
    start = page.text.index(f'data-device="{device_id}"')
    row = page.text[start:page.text.index("</tr>", start)]
    state = re.findall(r'data-state="([a-z_]+)" data-device="' + re.escape(device_id),
                       page.text)
    return state[0], re.sub(r"<[^>]+>", " ", row)


def devices_json(admin: Admin, device_id: str) -> dict[str, Any]:
    result = CliRunner().invoke(central_cli, ["devices", "list", "--json", "--db", admin.db_url])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    return next(r for r in rows if r["device_id"] == device_id)


def status(terminal: Terminal) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["sync", "status", "--json", "--config",
                                      str(terminal.config_path)])
    return json.loads(result.output)


class EventsFail:
    """The real client, but the events endpoint answers 500 (a server failing on this
    terminal's events while it still answers heartbeats)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def send_events(self, batch: Any) -> Any:
        raise errors.ServerFailureError("injected", status=500, code="internal_error")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_the_delivery_state_is_named_in_order_of_what_to_do():
    cause = Uploader(MemoryOutbox([]), None).delivery_cause  # type: ignore[arg-type]
    assert cause is None
    assert delivery_state(None, backlog=0, rejected=0, stalled_s=None) == OK
    assert delivery_state(None, backlog=3, rejected=0, stalled_s=10.0) == OK
    assert delivery_state(None, backlog=3, rejected=0, stalled_s=901.0) == BACKLOG_STUCK
    assert delivery_state(None, backlog=3, rejected=2, stalled_s=901.0) == EVENTS_REJECTED
    from sync.diagnosis import classify
    failing = classify(errors.ServerFailureError("x", status=500))
    assert delivery_state(failing, backlog=3, rejected=2, stalled_s=901.0) == SERVER_FAILING


def test_an_answered_heartbeat_clears_a_connection_cause_but_not_a_failing_server():
    class Client:
        def __init__(self, error: errors.RequestError) -> None:
            self.error = error

        def send_events(self, batch: Any) -> Any:
            raise self.error

        def heartbeat(self, **kwargs: Any) -> Any:
            self.sent = kwargs
            return object()

    for error, kept in ((errors.ConnectError("down"), None),
                        (errors.ServerFailureError("x", status=500), SERVER_FAILING)):
        client = Client(error)
        up = Uploader(MemoryOutbox(events(2)), client,  # type: ignore[arg-type]
                      policy=RetryPolicy(not_delivered_attempts=1, maybe_delivered_attempts=1),
                      sleep=lambda _s: False)
        with pytest.raises(RetryBudgetExhausted):
            up.drain()
        assert up.delivery_cause is not None
        up.heartbeat()
        # The heartbeat carried the batch's cause; its answer disproves only a connection one.
        assert client.sent["sync_state"] == (UNREACHABLE if kept is None else kept)
        assert (up.delivery_cause.code if up.delivery_cause else None) == kept


def test_a_server_failing_on_events_is_shown_with_its_words_then_cleared(
        terminal: Terminal, admin: Admin, caplog: pytest.LogCaptureFixture):
    register(terminal, 2, check_out_every=0)
    svc = SyncService(terminal.config, terminal.store,
                      policy=RetryPolicy(initial_s=0.01, cap_s=0.01, maybe_delivered_attempts=1))
    try:
        real = svc.uploader.client
        svc.uploader.client = EventsFail(real)  # type: ignore[assignment]
        with pytest.raises(RetryBudgetExhausted):
            svc.drain()
        svc.heartbeat()
        doc = status(terminal)
        # The heartbeat's answer does not wipe the events' failure from `sync status`.
        assert doc["last_error_class"] == SERVER_FAILING and doc["backlog"] == 2
        assert doc["delivery_state"] == SERVER_FAILING and doc["delivery_since"]
        text = CliRunner().invoke(cli, ["sync", "status", "--config", str(terminal.config_path)])
        assert "delivery       server_failing since" in text.output
        state, row = fleet_row(admin, terminal.device_id)
        assert state == "not_delivering"
        assert "服务器处理该终端的登记时出错" in row and "自 " in row
        listed = devices_json(admin, terminal.device_id)
        assert listed["sync_state"] == SERVER_FAILING and listed["sync_since"]
        # Fixed: the next batch goes through and the next heartbeat says so.
        svc.uploader.client = real
        assert svc.drain().remaining == 0
        svc.heartbeat()
    finally:
        svc.close()
    state, row = fleet_row(admin, terminal.device_id)
    assert state == "ok" and "正常送达" in row
    assert status(terminal)["last_error"] is None
    said = [r.getMessage() for r in caplog.records if r.name == "terminal.uploading.sync_service"]
    assert said[-1] == "delivering again (was server_failing)"


def test_events_the_server_rejects_are_shown_as_waiting_for_a_person(
        terminal: Terminal, admin: Admin):
    insert_raw(terminal, "check_in", {"room": "1\x00X", "guests": [guest()]})
    svc = SyncService(terminal.config, terminal.store)
    try:
        report = svc.drain()
        assert report.rejected == 1 and report.remaining == 0
        svc.heartbeat()
    finally:
        svc.close()
    assert status(terminal)["delivery_state"] == EVENTS_REJECTED
    state, row = fleet_row(admin, terminal.device_id)
    assert state == "not_delivering"
    assert "有登记被服务器退回" in row and "被退回 1 条" in row


def test_a_backlog_not_moving_and_a_low_disk_are_shown(terminal: Terminal, admin: Admin,
                                                       caplog: pytest.LogCaptureFixture):
    register(terminal, 1, check_out_every=0)
    svc = SyncService(terminal.config, terminal.store)
    try:
        svc.uploader.stuck_after_s = 0.0  # the set time, shortened: nothing sent since start
        free = svc.store.guard.free_bytes()
        svc.store.guard.min_free_bytes = free  # free space now below twice the threshold
        svc.heartbeat()
    finally:
        svc.close()
    state, row = fleet_row(admin, terminal.device_id)
    assert state == "not_delivering"
    assert "积压的登记长时间未能送出" in row and "存储空间不足" in row
    assert devices_json(admin, terminal.device_id)["disk_low"] is True
    said = [r.getMessage() for r in caplog.records if r.name == "terminal.uploading.sync_service"]
    assert said == ["not delivering: backlog_stuck (events waiting and none delivered for a "
                    "long time)"]


def test_a_wrong_secret_shows_the_refusal_beside_not_heard_from_since(
        terminal: Terminal, admin: Admin):
    cred_path = terminal.config["sync.credential_file"]
    cred = json.loads(cred_path.read_text())
    cred["secret"] = "0" * len(cred["secret"])
    cred_path.write_text(json.dumps(cred))
    register(terminal, 1, check_out_every=0)
    svc = SyncService(terminal.config, terminal.store,
                      policy=RetryPolicy(initial_s=0.01, cap_s=0.01))
    try:
        with pytest.raises(errors.AuthenticationError):
            svc.heartbeat()
    finally:
        svc.close()
    # Heard from at provisioning seconds ago: not silent yet, but not delivering.
    state, row = fleet_row(admin, terminal.device_id)
    assert state == "not_delivering"
    assert "服务器拒绝了它此后的请求" in row and "签名不符" in row and "anju provision" in row
    listed = devices_json(admin, terminal.device_id)
    assert listed["refused_code"] == "bad_signature" and listed["refused_since"]
    # An hour later, still nothing accepted: silent, since when, and why.
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with admin.engine.begin() as conn:
        conn.execute(update(tables.devices)
                     .where(tables.devices.c.device_id == terminal.device_id)
                     .values(last_seen_at=hour_ago, last_heartbeat_at=hour_ago))
    state, row = fleet_row(admin, terminal.device_id)
    assert state == "silent"
    assert "起未收到该终端的消息" in row and "签名不符" in row


def test_a_terminal_never_heard_from_again_says_since_when(terminal: Terminal, admin: Admin):
    svc = SyncService(terminal.config, terminal.store)
    try:
        svc.heartbeat()
    finally:
        svc.close()
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with admin.engine.begin() as conn:  # the server's clock moved on an hour: nothing came
        conn.execute(update(tables.devices)
                     .where(tables.devices.c.device_id == terminal.device_id)
                     .values(last_seen_at=hour_ago, last_heartbeat_at=hour_ago))
    state, row = fleet_row(admin, terminal.device_id)
    assert state == "silent"
    assert "起未收到该终端的消息" in row and "服务器此后未收到它的任何请求" in row
    assert "anju doctor" in row and "签名不符" not in row


@pytest.mark.parametrize("value, ok", [("server_failing", True), ("a_newer_code", True),
                                        ("Server Failing", False), ("ok\n", False),
                                        ("x" * 33, False), ("", False)])
def test_the_sync_state_field_carries_a_code_never_free_text(value: str, ok: bool):
    from sync.errors import ProtocolError
    from sync.messages import Heartbeat
    from sync.protocol import SenderClock

    clock = SenderClock("2025-03-01T00:00:00.000000Z", True, 1, "boot")
    doc = Heartbeat("dev-1", "S1", clock, "1.0", 0, None, "connected", 1, sync_state=value,
                    sync_state_age_s=3.5, disk_min_free_bytes=10).to_json()
    if ok:
        back = Heartbeat.from_json(doc)
        assert (back.sync_state, back.sync_state_age_s, back.disk_min_free_bytes) == (
            value, 3.5, 10)
    else:
        with pytest.raises(ProtocolError) as caught:
            Heartbeat.from_json(doc)
        assert caught.value.field == "sync_state"


def test_the_last_doctor_run_reaches_the_fleet_page(terminal: Terminal, admin: Admin):
    from tests import anju

    done = anju.run(  # a full run, as the technician does: no reader attached here
        "doctor", "--config", str(terminal.config_path), "--json", "--server-timeout", "2",
        timeout=120)
    assert done.returncode == 12, done.stdout + done.stderr
    kept = json.loads((terminal.config["sync.state_file"].parent / "doctor-last.json")
                      .read_text("utf-8"))
    assert kept["class"] == "reader" and "reader" in kept["failing"]
    assert set(kept) == {"checked_at", "class", "failing"}  # names of checks, no texts
    svc = SyncService(terminal.config, terminal.store)
    try:
        svc.heartbeat()
    finally:
        svc.close()
    listed = devices_json(admin, terminal.device_id)
    assert listed["doctor_class"] == "reader" and listed["doctor_at"]
    _state, row = fleet_row(admin, terminal.device_id)
    assert "最近一次自检" in row and "读卡器或扫描枪故障" in row
