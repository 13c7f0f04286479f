"""systemd integration: the notify protocol by hand, READY/WATCHDOG from a real `anju terminal
run`, and the unit file checked by `systemd-analyze verify` (skipped where it is missing)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from terminal import sdnotify

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "anju-terminal.service"


def _listener(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    return sock


def test_notify_is_a_no_op_outside_systemd(monkeypatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    assert sdnotify.notify("READY=1") is False
    assert sdnotify.watchdog_interval() is None


def test_notify_sends_one_datagram(tmp_path: Path, monkeypatch) -> None:
    with _listener(tmp_path / "notify") as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify"))
        monkeypatch.setenv("WATCHDOG_USEC", "4000000")
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
        assert sdnotify.notify("READY=1")
        assert sock.recv(256) == b"READY=1"
        assert sdnotify.watchdog_interval() == 2.0


def test_terminal_run_reports_ready_and_pings_the_watchdog(tmp_path: Path) -> None:
    config = tmp_path / "terminal.toml"
    config.write_text(f'[store]\ndatabase = "{tmp_path / "t.db"}"\nmin_free_bytes = 0\n')
    messages: list[bytes] = []
    with _listener(tmp_path / "notify") as sock:
        env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"),
               "WATCHDOG_USEC": "1000000"}
        with open(tmp_path / "log", "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-c", "from terminal.cli import main; main()", "terminal",
                 "run", "--config", str(config), "--simulate", "--port", "0"],
                stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and messages.count(b"WATCHDOG=1") < 2:
                try:
                    messages.append(sock.recv(256))
                except TimeoutError:
                    assert process.poll() is None, (tmp_path / "log").read_text()
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(20)
        try:
            while True:
                messages.append(sock.recv(256))
        except TimeoutError:
            pass
    assert messages[0].startswith(b"READY=1")
    assert messages.count(b"WATCHDOG=1") >= 2
    assert messages[-1] == b"STOPPING=1"
    assert process.returncode in (0, -signal.SIGTERM)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_unit_file_verifies(tmp_path: Path) -> None:
    # verify checks that ExecStart exists: point it at this checkout's venv for the check.
    text = UNIT.read_text().replace("/opt/anju/.venv/bin/anju",
                                    str(Path(sys.executable).parent / "anju"))
    unit = tmp_path / UNIT.name
    unit.write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                          capture_output=True, text=True, timeout=60, check=False)
    problems = [line for line in done.stderr.splitlines()
                if UNIT.name in line and "Failed to" not in line]
    assert done.returncode == 0 and not problems, done.stderr
    assert "Type=notify" in text and "WatchdogSec=" in text
