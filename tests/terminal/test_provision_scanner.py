"""`anju provision` finds a serial scanner the only way one can be found: it listens on the
serial ports the reader did not take while the technician scans a code (a real simulated reader
process and a simulated scanner on ptys, a real central server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.barcode.serial_scanner import listen_for_scan
from drivers.sim.scanner import SimulatedScanner
from terminal.config import load_config
from tests.central.central_helpers import Admin
from tests.terminal.test_provision_checks import (
    admin,
    anju,
    central,
    settings,
    silent_pty,
    sim_reader,
)

__all__ = ["admin", "central", "silent_pty", "sim_reader"]  # fixtures


@pytest.fixture
def scanning() -> Iterator[SimulatedScanner]:
    """A simulated scanner on which someone scans a code every 0.3 s."""
    stop = threading.Event()
    with SimulatedScanner() as scanner:
        def scan() -> None:
            while not stop.is_set():
                scanner.send(b"HELLO-1234", wait=None)
                stop.wait(0.3)

        worker = threading.Thread(target=scan)
        worker.start()
        try:
            yield scanner
        finally:
            stop.set()
            worker.join(5)


def test_provision_finds_the_scanner_when_a_code_is_scanned(
    tmp_path: Path, admin: Admin, sim_reader: str, scanning: SimulatedScanner, silent_pty: str
):
    path = settings(tmp_path)
    result = anju(
        "provision", "--server", admin.url, "--token", admin.token(admin.site()),
        "--config", str(path), "--probe-port", scanning.port, "--probe-port", silent_pty,
        "--scanner-wait", "10", env={"ANJU_PROVISION_PORTS": sim_reader},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "scan any barcode now: listening on" in result.stdout
    assert f"✓ scanner    scanner on {scanning.port} (a scan arrived there)" in result.stdout
    config = load_config(path)
    assert config["scanner.port"] == scanning.port and config["reader.port"] == sim_reader


def test_without_a_scan_no_scanner_is_set_and_provisioning_goes_on(
    tmp_path: Path, admin: Admin, sim_reader: str, silent_pty: str
):
    path = settings(tmp_path)
    result = anju(
        "provision", "--server", admin.url, "--token", admin.token(admin.site()),
        "--config", str(path), "--probe-port", silent_pty, "--scanner-wait", "0.5",
        env={"ANJU_PROVISION_PORTS": sim_reader},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{silent_pty}: no scan within 0.5 s" in result.stdout
    assert load_config(path)["scanner.port"] == ""


def test_bytes_that_make_no_scan_are_not_a_scanner(silent_pty: str):
    import os
    import tty

    master, slave = os.openpty()  # another device that chatters without ever ending a line
    try:
        tty.setraw(slave)
        chatter = os.ttyname(slave)
        # After the listener opened the port (opening flushes what was there before).
        later = threading.Timer(0.2, os.write, (master, b"\x01\x02GPS-chatter-no-end"))
        later.start()
        found = listen_for_scan([silent_pty, chatter, "/nonexistent/ttyX"], 0.6)
        later.join()
    finally:
        os.close(master)
        os.close(slave)
    assert found.port is None
    assert found.why == {silent_pty: "no scan within 0.6 s",
                         chatter: "sent bytes that are no scan",
                         "/nonexistent/ttyX": found.why["/nonexistent/ttyX"]}
    assert found.why["/nonexistent/ttyX"].startswith("cannot open")
