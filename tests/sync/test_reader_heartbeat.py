"""The reader's state end to end: `anju terminal run --simulate` (the reader loop on a
pseudo-terminal) records it in the store, `anju sync run` (another process) sends it in the
heartbeat, the central server keeps it and the fleet page shows it; a dead terminal service
reads as stale, never as connected."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from terminal.cli import cli
from terminal.uploading.sync_service import SyncService
from tests.central.central_helpers import Admin
from tests.central.police_helpers import logged_in
from tests.central.serverproc import CentralServer
from tests.sync.uploader_helpers import provision
from tests.web.desk import Desk


@pytest.fixture
def server(sqlite_central: CentralServer) -> CentralServer:
    return sqlite_central  # the session's (tests/conftest.py)


@pytest.fixture
def admin(server: CentralServer) -> Iterator[Admin]:
    with Admin(server.db_url, server.url) as handle:
        yield handle


def wait_for(check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def latest_beat(admin: Admin, device_id: str) -> dict[str, Any] | None:
    rows = admin.rows("heartbeats", device_id=device_id)
    return max(rows, key=lambda r: r["id"]) if rows else None


def fleet_cell(admin: Admin, device_id: str) -> str:
    """The fleet page's reader cell of one device, as a technician sees it."""
    browser, _user = logged_in(admin.url, admin.engine, "technician")
    html = browser.get("/fleet").text
    row = html[html.index(f'data-device="{device_id}"'):]
    row = row[:row.index("</tr>")]
    return row[row.index('<td class="reader'):]


def test_reader_state_travels_from_the_terminal_service_to_the_fleet_page(
        admin: Admin, tmp_path: Path) -> None:
    terminal = provision(admin, tmp_path)
    device = terminal.device_id
    desk = Desk(tmp_path, terminal.config_path)  # `anju terminal run --simulate`
    service: SyncService | None = None
    try:
        def reader_row() -> tuple[Any, ...] | None:
            rows = desk.query("SELECT state, detail FROM device_status WHERE component = 'reader'")
            return rows[0] if rows else None

        assert wait_for(reader_row, "the reader state in the store") == ("connected", None)

        # `anju sync run` heartbeats at once on start (provisioning sent one before).
        before = latest_beat(admin, device)
        desk.start_uploader()
        beat = wait_for(lambda: (b := latest_beat(admin, device)) and b != before and b,
                        "the uploader's first heartbeat")
        assert beat["reader_status"] == "connected"
        assert beat["reader_since"] and beat["reader_seen_at"]
        assert beat["reader_since"] <= beat["reader_seen_at"] <= beat["received_at"]
        assert desk.uploader is not None and desk.uploader.stop() == 0
        cell = fleet_cell(admin, device)
        assert "正常" in cell and "自 " in cell

        # Unplugged: the reader loop notices, the service records it, the next heartbeat says so.
        desk.sim("unplug")
        _state, detail = wait_for(lambda: (row := reader_row()) and row[0] == "no_reader" and row,
                                 "no_reader in the store")
        assert detail
        service = SyncService(terminal.config, terminal.store)
        service.heartbeat()
        beat = latest_beat(admin, device)
        assert beat is not None
        assert (beat["reader_status"], beat["reader_detail"]) == ("no_reader", detail)
        cell = fleet_cell(admin, device)
        assert "未连接" in cell and detail[:20] in cell
        # The technician sees the same on the terminal.
        status = CliRunner().invoke(cli, ["sync", "status", "--json", "--config",
                                          str(terminal.config_path)])
        assert status.exit_code == 0, status.output
        assert json.loads(status.output)["reader"]["status"] == "no_reader"

        # The terminal service dies: its last word ("no_reader") goes stale, and with a
        # plugged reader it would be the same: never "connected" from a dead service.
        desk.service.process.send_signal(signal.SIGKILL)
        desk.service.process.wait(10)
        service.outbox.reader_stale_after_s = 0.0  # the real limit is minutes: any age counts
        service.heartbeat()
        beat = latest_beat(admin, device)
        assert beat is not None and beat["reader_status"] == "stale"
        assert beat["reader_detail"].startswith("terminal service silent; reader was no_reader")
        assert "终端程序无响应" in fleet_cell(admin, device)
    finally:
        if service is not None:
            service.close()
        if desk.uploader is not None:
            desk.uploader.stop()
        desk.service.stop()
        terminal.store.close()
