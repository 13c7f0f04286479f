"""The truth in `anju sync status`, `sync now` and the log: an outage is recorded at its first
failed attempt (while the retry layer keeps trying inside one call), logged once each way, and
each cause is told apart with its own advice (issue 12, section 2)."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from sync import errors
from sync.diagnosis import CLOCK_REJECTED, CREDENTIAL_REFUSED, TLS, UNREACHABLE, classify
from sync.protocol import BatchAnswer, EventResult, WireEvent
from sync.retry import RetryPolicy, StopRequested
from sync.uploader import Uploader
from terminal.cli import cli
from terminal.uploading.sync_service import SyncService
from tests.central.central_helpers import Admin
from tests.central.serverproc import CentralServer, free_port
from tests.sync.test_uploader_unit import MemoryOutbox, events
from tests.sync.uploader_helpers import Terminal, provision, register


class FlakyClient:
    """Fails the first `failures` requests with `error`, then accepts everything."""

    def __init__(self, failures: int, error: errors.RequestError) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def send_events(self, batch: Sequence[WireEvent]) -> BatchAnswer:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return BatchAnswer(
            "2025-03-01T00:00:00.000000Z",
            0,
            tuple(EventResult(e.event_id, "accepted", receipt="R") for e in batch),
        )


def test_first_failed_attempt_is_recorded_while_retrying_forever(caplog: pytest.LogCaptureFixture):
    changes: list[str | None] = []
    seen: list[str | None] = []

    def sleep(_seconds: float) -> bool:
        seen.append(up.last_error)  # what `sync status` would read during this wait
        return len(seen) >= 6  # stop after six waits: the call itself would never return

    client = FlakyClient(10**6, errors.ConnectError("refused"))
    up = Uploader(
        MemoryOutbox(events(2)),
        client,  # type: ignore[arg-type]
        policy=RetryPolicy(not_delivered_attempts=None),
        sleep=sleep,
    )
    up.on_change = lambda: changes.append(up.last_error)
    with caplog.at_level(logging.WARNING, logger="sync.uploader"), pytest.raises(StopRequested):
        up.drain()
    assert seen[0] == "ConnectError"  # recorded before the first wait, not after the last
    assert up.cause is not None and up.cause.code == UNREACHABLE and up.offline_since
    assert changes == ["ConnectError"]  # persisted once, not once per retry
    offline = [r for r in caplog.records if "offline since" in r.getMessage()]
    assert len(offline) == 1 and "will retry" in offline[0].getMessage()


def test_back_online_is_logged_once_and_clears_the_cause(caplog: pytest.LogCaptureFixture):
    client = FlakyClient(3, errors.ServerBusyError("503", status=503))
    up = Uploader(
        MemoryOutbox(events(3)),
        client,  # type: ignore[arg-type]
        policy=RetryPolicy(not_delivered_attempts=None),
        sleep=lambda s: None,
    )
    with caplog.at_level(logging.WARNING, logger="sync.uploader"):
        report = up.drain()
    assert report.acknowledged == 3 and up.last_error is None and up.cause is None
    messages = [r.getMessage() for r in caplog.records]
    assert sum("offline since" in m for m in messages) == 1
    assert sum("back online after" in m for m in messages) == 1


@pytest.mark.parametrize(
    ("error", "code", "advice"),
    [
        (errors.ConnectError("refused"), UNREACHABLE, "will retry"),
        (errors.TLSError("certificate verify failed"), TLS, "CA bundle"),
        (
            errors.AuthenticationError("x", status=401, code="bad_signature"),
            CREDENTIAL_REFUSED,
            "anju provision",
        ),
        (
            errors.ForbiddenError("x", status=403, code="device_disabled"),
            CREDENTIAL_REFUSED,
            "anju provision",
        ),
        (
            errors.ClockSkewError("x", server_time=0.0, status=401, code="clock_skew"),
            CLOCK_REJECTED,
            "clock",
        ),
    ],
)
def test_each_cause_has_its_own_advice(error: errors.RequestError, code: str, advice: str):
    cause = classify(error)
    assert cause.code == code and advice in cause.advice
    assert "cable" not in cause.advice or code == UNREACHABLE


# -- against a real central server ---------------------------------------------------------


@pytest.fixture
def truth_server(sqlite_central: CentralServer) -> CentralServer:
    return sqlite_central  # the session's (tests/conftest.py)


@pytest.fixture
def terminal(truth_server: CentralServer, tmp_path: Path) -> Iterator[Terminal]:
    with Admin(truth_server.db_url, truth_server.url) as admin:
        term = provision(admin, tmp_path)
    try:
        yield term
    finally:
        term.store.close()


def _point_at(terminal: Terminal, url: str) -> None:
    text = terminal.config_path.read_text("utf-8").replace(terminal.config["sync.server_url"], url)
    terminal.config_path.write_text(text, "utf-8")


def _status(terminal: Terminal) -> dict[str, object]:
    result = CliRunner().invoke(
        cli, ["sync", "status", "--json", "--config", str(terminal.config_path)]
    )
    return json.loads(result.output)


def test_sync_run_shows_an_outage_within_one_attempt(terminal: Terminal):
    """The issue's case: server down, one event queued, `sync run` retrying forever."""
    register(terminal, 1, check_out_every=0)
    url = f"http://127.0.0.1:{free_port()}"
    stop = threading.Event()
    svc = SyncService(
        terminal.config,
        terminal.store,
        server_url=url,
        stop=stop,
        policy=RetryPolicy(initial_s=0.2, cap_s=1.0),
    )
    worker = threading.Thread(target=svc.run)
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _status(terminal)["offline_since"]:
            time.sleep(0.1)
        doc = _status(terminal)
    finally:
        stop.set()
        worker.join(10)
        svc.close()
    assert doc["last_error_class"] == UNREACHABLE and doc["offline_since"]
    assert str(doc["last_error"]).startswith("ConnectError") and doc["backlog"] == 1
    assert "will retry" in str(doc["advice"])
    text = CliRunner().invoke(cli, ["sync", "status", "--config", str(terminal.config_path)])
    assert "OFFLINE since" in text.output and "will retry" in text.output


def test_wrong_secret_says_credential_refused_with_the_command(terminal: Terminal):
    register(terminal, 1, check_out_every=0)
    cred_path = terminal.config["sync.credential_file"]
    cred = json.loads(cred_path.read_text())
    cred["secret"] = "0" * len(cred["secret"])
    cred_path.write_text(json.dumps(cred))
    result = CliRunner().invoke(
        cli, ["sync", "now", "--quiet", "--timeout", "5", "--config", str(terminal.config_path)]
    )
    assert result.exit_code == 1
    assert "credential" in result.output and "anju provision" in result.output
    assert "will be sent later" not in result.output
    doc = _status(terminal)
    assert doc["last_error_class"] == CREDENTIAL_REFUSED and doc["backlog"] == 1
    text = CliRunner().invoke(cli, ["sync", "status", "--config", str(terminal.config_path)])
    assert "needs a technician" in text.output and "anju provision" in text.output


def test_sync_now_with_nothing_to_send_asks_the_server(terminal: Terminal):
    args = ["--config", str(terminal.config_path)]
    result = CliRunner().invoke(cli, ["sync", "now", "--quiet", *args])
    assert result.exit_code == 0, result.output
    assert "nothing to send" in result.output and "accepted" in result.output
    assert _status(terminal)["last_success"]


def test_sync_now_with_nothing_to_send_records_no_success_offline(terminal: Terminal):
    terminal.config["sync.state_file"].unlink(missing_ok=True)
    _point_at(terminal, f"http://127.0.0.1:{free_port()}")
    args = ["--config", str(terminal.config_path)]
    result = CliRunner().invoke(cli, ["sync", "now", "--quiet", "--timeout", "0.5", *args])
    assert result.exit_code == 1 and "unreachable" in result.output
    doc = _status(terminal)
    assert doc["last_success"] is None and doc["last_error_class"] == UNREACHABLE
