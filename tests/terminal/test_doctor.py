"""`anju doctor`: each fault caused for real and named, with what to do and its exit code:
a simulated reader (absent, SAM not authorised, held by the running service), a stopped server,
a server that never answers, a wrong secret, a stale clock, a full tmpfs, a tampered store,
rejected events, a backlog not moving, a world-readable credential, invalid settings."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from drivers.idcard.codec import Status
from drivers.sim.idcard import SimulatedReader
from sync.protocol import EventResult
from terminal.doctor import FAIL, OK, Check, Context, Finding, exit_code, remote, run
from terminal.store.outbox import StoreOutbox
from terminal.system import service_faults
from tests import anju
from tests.central.central_helpers import Admin
from tests.central.serverproc import CentralServer, free_port
from tests.sync.uploader_helpers import Terminal, provision, register
from tests.web import desk as desk_module
from tests.web.desk import Desk


def doctor(config: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = anju.run("doctor", "--config", str(config), "--json", *args,
                      env={"LANG": "C.UTF-8"})
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def failing(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["check"]: f for f in doc["findings"] if f["level"] in ("fail", "warn")}


@pytest.fixture
def central(sqlite_central: CentralServer) -> CentralServer:
    return sqlite_central  # the session's (tests/conftest.py)


@pytest.fixture
def sim() -> Iterator[SimulatedReader]:
    with SimulatedReader() as reader:
        yield reader


@pytest.fixture
def term(central: CentralServer, sim: SimulatedReader, tmp_path: Path) -> Iterator[Terminal]:
    with Admin(central.db_url, central.url) as admin:
        terminal = provision(admin, tmp_path)
    with open(terminal.config_path, "a", encoding="utf-8") as out:
        out.write(f'\n[reader]\nport = "{sim.port}"\n[web]\nport = {free_port()}\n')
    terminal.config_path.chmod(0o600)
    try:
        yield terminal
    finally:
        terminal.store.close()


def test_a_healthy_terminal_is_all_well(term: Terminal):
    code, doc = doctor(term.config_path, "--synchronised", "yes")
    assert code == 0, failing(doc)
    assert doc["ok"] and {f["level"] for f in doc["findings"]} <= {"ok", "skip"}
    checks = {f["check"] for f in doc["findings"]}
    assert {"reader", "server", "clock.server", "store", "disk", "files"} <= checks


def test_reader_absent_names_the_port_and_the_fix(
    term: Terminal, sim: SimulatedReader, tmp_path: Path
):
    text = term.config_path.read_text().replace(sim.port, str(tmp_path / "ttyUSB9"))
    term.config_path.write_text(text)
    code, doc = doctor(term.config_path, "--only", "reader")
    assert code == 12
    assert "does not exist" in failing(doc)["reader"]["what"]
    assert "reader.port" in failing(doc)["reader"]["todo"]


def test_sam_not_authorised_is_a_reader_fault(term: Terminal, sim: SimulatedReader):
    with SimulatedReader(sam_status=Status.SAM_NOT_AUTHORISED) as bad:
        text = term.config_path.read_text().replace(sim.port, bad.port)
        term.config_path.write_text(text)
        code, doc = doctor(term.config_path, "--only", "reader")
    assert code == 12
    found = failing(doc)["reader"]
    assert "SAM" in found["what"] and "replug" in found["todo"]


def test_while_the_service_runs_doctor_asks_it_not_the_port(
    term: Terminal, sim: SimulatedReader, monkeypatch: pytest.MonkeyPatch
):
    # Doctor knows the service holding the port by its command line (`anju terminal run`):
    # a real one, not a fork of the fork server (tests/anju.py).
    monkeypatch.setattr(desk_module, "fork_server", None)
    desk = Desk(term.config_path.parent, term.config_path, simulate=False)
    try:
        code, doc = doctor(term.config_path, "--only", "reader", "--page-url", desk.url)
        held, held_doc = doctor(
            term.config_path, "--only", "reader", "--page-url", f"http://127.0.0.1:{free_port()}"
        )
    finally:
        desk.stop()
    assert code == 0, failing(doc)
    assert "terminal service reports" in doc["findings"][0]["what"]
    assert held == 12 and "in use by the terminal service" in failing(held_doc)["reader"]["what"]


def test_a_stopped_server_is_unreachable(term: Terminal):
    text = term.config_path.read_text().replace(
        term.config["sync.server_url"], f"http://127.0.0.1:{free_port()}"
    )
    term.config_path.write_text(text)
    code, doc = doctor(term.config_path, "--only", "server")
    assert code == 14
    assert "will retry" in failing(doc)["server.unreachable"]["todo"]


def test_a_server_that_never_answers_is_bounded(term: Terminal):
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        text = term.config_path.read_text().replace(term.config["sync.server_url"], url)
        term.config_path.write_text(text)
        code, doc = doctor(term.config_path, "--only", "server", "--server-timeout", "0.5")
    assert code == 14 and "server.unreachable" in failing(doc)


def test_a_wrong_secret_is_credential_refused(term: Terminal):
    path = term.config["sync.credential_file"]
    cred = json.loads(path.read_text())
    cred["secret"] = "1" * len(cred["secret"])
    path.write_text(json.dumps(cred))
    code, doc = doctor(term.config_path, "--only", "server")
    assert code == 15
    assert "anju provision" in failing(doc)["server.credential_refused"]["todo"]


def test_a_missing_credential_says_provision(term: Terminal):
    term.config["sync.credential_file"].unlink()
    code, doc = doctor(term.config_path, "--only", "credential")
    assert code == 11 and "anju provision" in failing(doc)["credential"]["todo"]


@pytest.mark.parametrize(
    ("now", "words"),
    [("1970-01-01T00:00:05", "implausible"), ("2099-01-01T00:00:00", "not synchronised")],
)
def test_a_stale_or_unsynchronised_clock(term: Terminal, now: str, words: str):
    register(term, 1, check_out_every=0)
    code, doc = doctor(term.config_path, "--only", "clock", "--now", now)
    assert code == 16 and words in failing(doc)["clock.local"]["what"]


def test_a_clock_far_from_the_server_is_named(term: Terminal):
    code, doc = doctor(term.config_path, "--only", "server", "--now", "2099-01-01T00:00:00")
    assert code == 16
    assert "off by" in failing(doc)["clock.server"]["what"]


def test_disk_low(term: Terminal):
    with open(term.config_path, "a", encoding="utf-8") as out:
        out.write("\n[store]\n")  # a second table would be invalid: edit the value instead
    text = term.config_path.read_text().replace("\n[store]\n", "\n", 1)
    text = text.replace("[store]\n", "[store]\nmin_free_bytes = 1000000000000000\n", 1)
    term.config_path.write_text(text)
    code, doc = doctor(term.config_path, "--only", "disk")
    assert code == 17 and "disk full" in failing(doc)["disk"]["what"]


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_tmpfs_is_disk_full(term: Terminal, small_fs: Path):
    text = term.config_path.read_text().replace(
        str(term.config["store.database"]), str(small_fs / "terminal.db")
    )
    term.config_path.write_text(text)
    with open(small_fs / "filler", "wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError:
            pass
    code, doc = doctor(term.config_path, "--only", "disk")
    assert code == 17 and "disk full" in failing(doc)["disk"]["what"]


def test_a_tampered_store_is_a_store_fault(term: Terminal):
    register(term, 2, check_out_every=0)
    conn = sqlite3.connect(term.config["store.database"], isolation_level=None)
    try:
        for trigger in ("events_only_purge", "events_purge_delivered"):
            conn.execute(f"DROP TRIGGER {trigger}")
        conn.execute("UPDATE events SET payload = replace(payload, '101', '109')")
    finally:
        conn.close()
    code, doc = doctor(term.config_path, "--only", "store")
    assert code == 18 and "faults" in failing(doc)["store"]["what"]


def test_rejected_events_and_a_backlog_not_moving(term: Terminal):
    ids = register(term, 2, check_out_every=0)
    outbox = StoreOutbox(term.store)
    first = outbox.pending(1, 1 << 20)[0]
    outbox.mark_sent([first.event_id])
    outbox.record(
        [EventResult(first.event_id, "rejected", code="bad_field", field="room", message="m")]
    )
    code, doc = doctor(term.config_path, "--only", "backlog")
    assert code == 19 and "bad_field" in failing(doc)["backlog.rejected"]["what"]
    assert "backlog.moving" not in failing(doc)
    code, doc = doctor(term.config_path, "--only", "backlog", "--now", "2099-01-01T00:00:00")
    assert "not moving" in failing(doc)["backlog.moving"]["what"] and ids


def test_a_world_readable_credential(term: Terminal):
    term.config["sync.credential_file"].chmod(0o644)
    code, doc = doctor(term.config_path, "--only", "files")
    assert code == 20 and "chmod 600" in failing(doc)["files"]["todo"]


def test_invalid_settings(tmp_path: Path):
    config = tmp_path / "terminal.toml"
    config.write_text("[reader]\nbaud = 'fast'\n")
    code, doc = doctor(config)
    assert code == 10 and failing(doc)["settings"]["level"] == FAIL


def test_a_hanging_check_is_cut_at_its_timeout():
    import threading

    never = threading.Event()

    def hangs(_ctx: Context) -> list[Finding]:
        never.wait()
        return []

    def fine(_ctx: Context) -> list[Finding]:
        return [Finding("disk", "disk", OK, "fine")]

    found = run(
        [Check("server", "server", hangs, 0.2), Check("disk", "disk", fine, 1.0)],
        Context(None, None),
    )
    never.set()
    assert [f.check for f in found] == ["server", "disk"]
    assert "did not finish" in found[0].what and exit_code(found) == 14


def test_services_restarting_and_recorded_faults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A `systemctl` standing in for systemd (no systemd in the test container)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "systemctl"
    fake.write_text(
        '#!/bin/sh\ncase "$4" in\n'
        " anju-terminal.service) echo ActiveState=active; echo NRestarts=4; "
        "echo Result=success;;\n"
        " *) echo ActiveState=failed; echo NRestarts=0; echo Result=exit-code;;\n"
        "esac\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    service_faults.record(
        tmp_path,
        service_faults.Fault("anju-sync.service", "2026-03-01T02:00:00Z", result="watchdog"),
    )
    config = {"sync.state_file": tmp_path / "sync-state.json"}
    found = {f.check: f for f in remote.services(Context(config, None, systemd=True))}  # type: ignore[arg-type]
    assert found["services.anju-terminal.service"].level == "warn"
    assert "restarted 4 times" in found["services.anju-terminal.service"].what
    assert found["services.anju-sync.service"].level == FAIL
    assert "systemctl start" in found["services.anju-sync.service"].todo
    assert "watchdog" in found["services.faults.anju-sync.service"].what
    assert exit_code(found.values()) == 13


def test_the_local_endpoint_answers_loopback_peers_only():
    import asyncio

    from starlette.requests import Request

    from terminal.web import routes_local

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/local/health",
        "headers": [],
        "client": ("192.168.1.20", 50000),
        "query_string": b"",
    }
    answer = asyncio.run(routes_local.local_health(Request(scope)))
    assert answer.status_code == 403
