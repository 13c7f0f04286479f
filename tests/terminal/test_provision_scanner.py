"""`anju provision` finds a serial scanner the only way one can be found: it listens on the
serial ports the reader did not take while the technician scans a code (a simulated scanner and
a silent port on real ptys, a real central server; provisioning in this process, where the
reader is probed over the simulator's in-memory lines: test_provision_checks.py probes real
ptys)."""

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
    central,
    provision_here,
    settings,
    silent_lines,
    silent_pty,
)

__all__ = ["admin", "central", "silent_pty"]  # fixtures


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


READER = "/dev/ttyACM7"  # the reader's port name: reached over an in-memory line


def test_provision_finds_the_scanner_when_a_code_is_scanned(
    tmp_path: Path, admin: Admin, scanning: SimulatedScanner, silent_pty: str,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    path = settings(tmp_path)
    monkeypatch.setenv("ANJU_PROVISION_PORTS", READER)
    code, out = provision_here(
        capsys, silent_lines(scanning.port, silent_pty, reader=READER), server_url=admin.url,
        token=admin.token(admin.site()), config_file=path,
        probe_ports=(scanning.port, silent_pty), scanner_wait=10.0)
    assert code == 0, out
    assert "scan any barcode now: listening on" in out
    assert f"✓ scanner    scanner on {scanning.port} (a scan arrived there)" in out
    config = load_config(path)
    assert config["scanner.port"] == scanning.port and config["reader.port"] == READER


def test_without_a_scan_no_scanner_is_set_and_provisioning_goes_on(
    tmp_path: Path, admin: Admin, silent_pty: str, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
):
    path = settings(tmp_path)
    monkeypatch.setenv("ANJU_PROVISION_PORTS", READER)
    code, out = provision_here(
        capsys, silent_lines(silent_pty, reader=READER), server_url=admin.url,
        token=admin.token(admin.site()), config_file=path, probe_ports=(silent_pty,),
        scanner_wait=0.5)
    assert code == 0, out
    assert f"{silent_pty}: no scan within 0.5 s" in out
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
