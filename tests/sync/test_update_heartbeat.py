"""The rollout's way to the terminal and the outcome's way back, through the real processes:
the central server orders a version for the terminal's site, the sync service's heartbeat
writes the order for the updater, the updater's outcome goes back in the next heartbeat; and
the front desk tells the updater, on loopback, when a registration is open."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from central import rollout
from central.accounts.admin import operator
from sync.update_messages import UpdateReport
from terminal.config import load_config
from terminal.update.order import read_order
from terminal.update.state import UpdaterState
from terminal.uploading.sync_service import SyncService
from tests.central.central_helpers import Admin
from tests.central.serverproc import CentralServer
from tests.sync.uploader_helpers import provision
from tests.web.desk import Desk


@pytest.fixture
def admin(sqlite_central: CentralServer) -> Iterator[Admin]:
    """The session's server: rollouts are global to it, so the test rolls out to its own site
    only, and cancels (as tests/central/test_rollout.py does)."""
    with Admin(sqlite_central.db_url, sqlite_central.url) as handle:
        yield handle


def test_order_reaches_the_updater_and_the_outcome_comes_back(admin: Admin,
                                                              tmp_path: Path) -> None:
    terminal = provision(admin, tmp_path)
    with terminal.config_path.open("a") as settings:
        settings.write(f'[update]\norder_file = "{tmp_path / "update-target.json"}"\n'
                       f'state_dir = "{tmp_path / "anju-update"}"\n')
    config = load_config(terminal.config_path)
    order_file = tmp_path / "update-target.json"
    service = SyncService(config, terminal.store)
    try:
        service.heartbeat()
        assert read_order(order_file) is None
        site = config.require_identity().site_code
        made = rollout.set_rollout(admin.engine, "0.2.0", "sites", [site], spread_s=0,
                                   by=operator())
        before = time.time()
        service.heartbeat()
        order = read_order(order_file)
        assert order is not None and (order.version, order.rollout_id) == ("0.2.0", made.id)
        assert before - 1 <= order.due_at <= time.time() + 1  # spread 0: due now
        # the updater rolled back; the next heartbeat says so
        state_file = tmp_path / "anju-update/state.json"
        state_file.parent.mkdir()
        why = "anju-terminal crash-looped (3 restarts, activating/auto-restart)"
        state_file.write_text(json.dumps(UpdaterState(
            failed=("0.2.0",), report=UpdateReport("rolled_back", "0.2.0", "0.1.0", why,
                                                   "2026-03-01T02:00:00.000000Z")).to_json()))
        service.heartbeat()
        (row,) = admin.rows("update_reports", device_id=terminal.device_id)
        assert (row["state"], row["version"], row["previous"], row["detail"]) == (
            "rolled_back", "0.2.0", "0.1.0", why)
        (progress,) = [p for p in rollout.progress(admin.engine) if p.rollout.id == made.id]
        assert [d["device_id"] for d in progress.rolled_back] == [terminal.device_id]
        rollout.cancel(admin.engine, made.id, by=operator())
        service.heartbeat()
        assert not order_file.exists()  # no order any more
    finally:
        service.close()
        terminal.store.close()


def test_the_front_desk_says_when_a_registration_is_open(admin: Admin, tmp_path: Path) -> None:
    terminal = provision(admin, tmp_path)
    terminal.store.close()
    desk = Desk(tmp_path, terminal.config_path)
    try:
        def busy() -> dict[str, object]:
            with requests.Session() as session:
                return dict(session.get(desk.url + "/local/update", timeout=5).json())

        assert busy() == {"busy": False, "guests": 0, "attachments": 0}
        desk.place(0)
        deadline = time.monotonic() + 20
        while not busy()["busy"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert busy() == {"busy": True, "guests": 1, "attachments": 0}
        client = desk.client()  # the clerk clears the party: free again
        assert client.post(desk.url + "/party/clear", timeout=5).status_code in (200, 303)
        client.close()
        assert busy()["busy"] is False
    finally:
        desk.stop()
