"""The uploader against a real `anju central serve` subprocess, on SQLite and PostgreSQL:
provision, register through the Registry, drain, and check both sides."""

from __future__ import annotations

import dataclasses
import json
import signal
import stat
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync.protocol import EventResult, WireEvent
from sync.uploader import Health
from terminal.cli import cli
from terminal.desk.registry import Registry
from terminal.store.outbox import StoreOutbox
from terminal.uploading.sync_service import SyncService, load_credentials
from tests import anju
from tests.central.central_helpers import Admin
from tests.central.serverproc import CentralServer, free_port
from tests.sync.uploader_helpers import (
    Terminal,
    central_counts,
    provision,
    register,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def upl_server(request: pytest.FixtureRequest) -> CentralServer:
    """The session's server on each backend in turn (tests/conftest.py)."""
    return request.getfixturevalue(f"{request.param}_central")


@pytest.fixture
def admin(upl_server: CentralServer) -> Iterator[Admin]:
    with Admin(upl_server.db_url, upl_server.url) as handle:
        yield handle


@pytest.fixture
def terminal(admin: Admin, tmp_path: Path) -> Iterator[Terminal]:
    term = provision(admin, tmp_path)
    try:
        yield term
    finally:
        term.store.close()


def service(terminal: Terminal, **kwargs: object) -> SyncService:
    return SyncService(terminal.config, terminal.store, **kwargs)  # type: ignore[arg-type]


def test_provision_writes_identity_and_private_credential(terminal: Terminal, admin: Admin):
    credential = terminal.config["sync.credential_file"]
    assert stat.S_IMODE(credential.stat().st_mode) == 0o600
    assert load_credentials(credential).device_id == terminal.device_id
    assert terminal.config["sync.server_url"] == admin.url
    assert admin.rows("heartbeats", device_id=terminal.device_id)  # the signed confirmation


def test_drain_acknowledges_every_event_once(terminal: Terminal, admin: Admin):
    register(terminal, 40)
    svc = service(terminal)
    try:
        svc.uploader.max_batch_events = 16  # several batches
        report = svc.drain()
    finally:
        svc.close()
    states = terminal.outbox_states()
    assert states == {"acknowledged": report.acknowledged} and report.remaining == 0
    assert report.requests >= 4 and report.rejected == 0
    assert all(terminal.receipts().values())
    assert central_counts(admin, terminal.device_id) == (report.acknowledged,) * 2
    assert admin.faults(terminal.device_id) == []


class CorruptOne:
    """The real outbox, but one event's payload hash is damaged on its way out."""

    def __init__(self, inner: StoreOutbox, victim_index: int) -> None:
        self.inner = inner
        self.victim: str | None = None
        self.victim_index = victim_index

    def pending(self, limit: int, max_bytes: int) -> list[WireEvent]:
        events = self.inner.pending(limit, max_bytes)
        if self.victim is None and len(events) > self.victim_index:
            self.victim = events[self.victim_index].event_id
        return [dataclasses.replace(e, payload_sha256="0" * 64) if e.event_id == self.victim
                else e for e in events]

    def mark_sent(self, event_ids: Sequence[str]) -> None:
        self.inner.mark_sent(event_ids)

    def record(self, results: Sequence[EventResult]) -> None:
        self.inner.record(results)

    def backlog(self) -> int:
        return self.inner.backlog()

    def health(self) -> Health:
        return self.inner.health()


def test_rejected_event_does_not_block_the_rest(terminal: Terminal, admin: Admin):
    register(terminal, 12, check_out_every=0)
    svc = service(terminal)
    try:
        outbox = CorruptOne(svc.outbox, victim_index=3)
        svc.uploader.outbox = outbox
        report = svc.drain()
    finally:
        svc.close()
    assert report.rejected == 1 and report.acknowledged == 11
    assert terminal.outbox_states() == {"acknowledged": 11, "rejected": 1}
    with terminal.store.reader() as conn:
        code, field = conn.execute("SELECT reject_code, reject_field FROM outbox "
                                   "WHERE event_id = ?", (outbox.victim,)).fetchone()
    assert (outbox.victim, code, field) == report.rejections[0]
    result = CliRunner().invoke(cli, ["sync", "status", "--json", "--config",
                                      str(terminal.config_path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["rejected"] == 1 and doc["rejections"][0]["code"] == code
    assert doc["backlog"] == 0 and doc["last_success"]


def test_duplicates_and_sent_rows_count_as_delivered(terminal: Terminal, admin: Admin):
    register(terminal, 10, check_out_every=0)
    svc = service(terminal)
    try:
        first = svc.outbox.pending(4, 1 << 20)
        svc.client.send_events(first)  # delivered, but the answer "was lost"
        svc.outbox.mark_sent([e.event_id for e in svc.outbox.pending(6, 1 << 20)])  # "crash"
        report = svc.drain()
    finally:
        svc.close()
    assert report.duplicates == 4 and report.acknowledged == 10
    assert terminal.outbox_states() == {"acknowledged": 10}
    assert central_counts(admin, terminal.device_id) == (10, 10)


def test_sync_now_and_nil_report_heartbeat(terminal: Terminal, admin: Admin):
    register(terminal, 5, check_out_every=0)
    runner = CliRunner()
    result = runner.invoke(cli, ["sync", "now", "--quiet", "--config", str(terminal.config_path)])
    assert result.exit_code == 0, result.output
    assert "acknowledged 5" in result.output and "remaining 0" in result.output
    svc = service(terminal)
    try:
        assert svc.heartbeat() >= 1
    finally:
        svc.close()
    days = {r["day"]: r["check_ins"] for r in admin.rows("day_reports",
                                                          device_id=terminal.device_id)}
    assert len(days) == 7 and sorted(days.values())[:6] == [0] * 6  # six nil reports
    assert max(days.values()) == 5


def test_sync_now_offline_keeps_everything_queued(terminal: Terminal):
    register(terminal, 3, check_out_every=0)
    dead = f"http://127.0.0.1:{free_port()}"
    text = terminal.config_path.read_text("utf-8").replace(terminal.config["sync.server_url"],
                                                           dead)
    terminal.config_path.write_text(text, "utf-8")
    runner = CliRunner()
    args = ["--config", str(terminal.config_path)]
    result = runner.invoke(cli, ["sync", "now", "--quiet", "--timeout", "0.5", *args])
    assert result.exit_code == 1 and "stay queued" in result.output
    doc = json.loads(runner.invoke(cli, ["sync", "status", "--json", *args]).output)
    assert doc["backlog"] == 3 and doc["last_error"].startswith("ConnectError")


def test_sync_run_drains_and_stops_cleanly_on_sigterm(terminal: Terminal, tmp_path: Path):
    register(terminal, 6, check_out_every=0)
    log = tmp_path / "sync.log"
    proc = anju.start(["sync", "run"], log, {"ANJU_CONFIG": str(terminal.config_path)})
    try:
        deadline = time.monotonic() + 20
        while terminal.outbox_states() != {"acknowledged": 6} and time.monotonic() < deadline:
            time.sleep(0.1)
        assert terminal.outbox_states() == {"acknowledged": 6}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    assert proc.returncode == 0, log.read_text("utf-8")
    state = json.loads(terminal.config["sync.state_file"].read_text())
    assert state["last_success"] and state["last_heartbeat"] and state["last_error"] is None


def test_voided_before_sending_travels_withheld(terminal: Terminal, admin: Admin):
    stay_ids = register(terminal, 4, check_out_every=0)
    Registry(terminal.store).void(stay_ids[1], reason="登记错误", operator="op1")
    svc = service(terminal)
    try:
        report = svc.drain()
    finally:
        svc.close()
    assert terminal.outbox_states() == {"acknowledged": 4, "superseded": 1}
    assert report.acknowledged == 4 and report.remaining == 0
    rows = admin.rows("events", device_id=terminal.device_id)
    assert sorted(r["sequence"] for r in rows) == [1, 2, 3, 4, 5]  # no gap in the chain
    withheld = [r for r in rows if r["withheld"]]
    assert [(r["stay_id"], r["payload"]) for r in withheld] == [(stay_ids[1], None)]
    assert admin.faults(terminal.device_id) == []


def test_a_window_of_superseded_events_does_not_stall_the_drain(terminal: Terminal,
                                                                admin: Admin):
    stay_ids = register(terminal, 6, check_out_every=0)
    registry = Registry(terminal.store)
    for stay_id in stay_ids:
        registry.void(stay_id, reason="测试", operator="op1")
    svc = service(terminal)
    try:
        svc.uploader.max_batch_events = 2  # smaller than the run of superseded events
        report = svc.drain()
    finally:
        svc.close()
    assert terminal.outbox_states() == {"superseded": 6, "acknowledged": 6}
    assert report.acknowledged == 6 and report.remaining == 0
    assert central_counts(admin, terminal.device_id) == (12, 12)
    assert admin.faults(terminal.device_id) == []
