"""systemd integration: the notify protocol by hand, READY/WATCHDOG from a real `anju terminal
run`, and every unit's `anju` ExecStart parsed by the CLI itself: a real command with valid
options. (`systemd-analyze verify` and the exposure scores: tests/systemd/; the watchdog's
semantics: tests/terminal/test_watchdog.py.)"""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path

import click
import pytest

from terminal.cli import cli
from terminal.system import sdnotify
from tests import anju

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "anju-terminal.service"
UNITS = sorted((ROOT / "systemd").glob("*.service"))
INSTALLED_ANJU = "/opt/anju/venv/bin/anju"  # the package's virtual environment
# The units that run `anju` (the kiosk runs cage, the revive unit systemctl).
ANJU_UNITS = [u for u in UNITS if f"ExecStart={INSTALLED_ANJU}" in u.read_text()]
# The updater runs apt and dpkg as root and never opens the store (docs/updates.md); its own
# limits are checked in tests/systemd/test_systemd_units.py.
ROOT_UNITS = {"anju-update.service"}
# The terminal's own services: user anju, the store in /var/lib/anju.
STORE_UNITS = [u for u in ANJU_UNITS
               if "/etc/anju/terminal.toml" in u.read_text() and u.name not in ROOT_UNITS]


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
        env = {"NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "1000000"}
        process = anju.start(["terminal", "run", "--config", str(config), "--simulate",
                              "--port", "0"], tmp_path / "log", env)
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


@pytest.mark.parametrize("name", ["anju-terminal.service", "anju-sync.service"])
def test_the_services_are_notify_with_a_watchdog_and_record_their_failures(name: str) -> None:
    found = unit_settings(ROOT / "systemd" / name)
    assert found["Type"] == ["notify"] and found["WatchdogSec"]
    assert found["StartLimitIntervalSec"] and found["StartLimitBurst"]
    assert "anju-failure@%n.service" in found["OnFailure"][0].split()


def unit_settings(path: Path) -> dict[str, list[str]]:
    """`Key=value` lines of a unit file (comments and sections dropped), values per key."""
    found: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_there_is_a_unit_for_the_front_desk_and_one_for_the_uploader() -> None:
    starts = {u.name: unit_settings(u)["ExecStart"][0].split()[1:3] for u in UNITS}
    assert starts["anju-terminal.service"] == ["terminal", "run"]
    assert starts["anju-sync.service"] == ["sync", "run"]


@pytest.mark.parametrize("path", ANJU_UNITS, ids=[u.name for u in ANJU_UNITS])
def test_exec_start_is_a_real_command_with_valid_options(path: Path) -> None:
    """The CLI parses the unit's arguments exactly as it would at start: the command path must
    exist and every option must be known and valid (click's own parsing, nothing invoked)."""
    (exec_start,) = unit_settings(path)["ExecStart"]
    program, *args = exec_start.split()
    assert program == INSTALLED_ANJU
    command: click.Command = cli
    names = ["anju"]
    while isinstance(command, click.Group) and args and not args[0].startswith("-"):
        sub = command.get_command(click.Context(command), args[0])
        assert sub is not None, f"{path.name}: `{' '.join(names)}` has no command {args[0]!r}"
        command, names = sub, [*names, args.pop(0)]
    assert not isinstance(command, click.Group), f"{path.name}: {' '.join(names)} is a group"
    with command.make_context(" ".join(names), list(args)) as ctx:  # raises on a bad option
        if "--config" in args:
            assert ctx.params.get("config_path") == Path("/etc/anju/terminal.toml")


@pytest.mark.parametrize("path", STORE_UNITS, ids=[u.name for u in STORE_UNITS])
def test_units_are_hardened_alike(path: Path) -> None:
    found = unit_settings(path)
    for key, value in (("User", "anju"), ("NoNewPrivileges", "yes"),
                       ("ProtectSystem", "strict"), ("ReadWritePaths", "/var/lib/anju"),
                       ("StateDirectory", "anju"), ("ConfigurationDirectory", "anju"),
                       ("CapabilityBoundingSet", "")):
        assert found.get(key) == [value], f"{path.name}: {key}"
