"""`anju scan watch|image` and `anju sim scanner`, for real (pty, images, a subprocess)."""

from __future__ import annotations

import json
import select
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from drivers.barcode import synth
from drivers.barcode.mrzbuild import MrzFields, td3
from drivers.sim.scanner import SimulatedScanner
from terminal.cli import cli

ROOT = Path(__file__).resolve().parents[3]
PASSPORT = td3(MrzFields(expiry_date="320415"))


def test_scan_image_json_and_masking(tmp_path):
    pytest.importorskip("zxingcpp")
    frame = tmp_path / "passport-qr.png"
    synth.place(synth.render("qr", PASSPORT)).save(frame)
    pdf = tmp_path / "label.png"
    synth.place(synth.render("pdf417", "BK-2026-0042")).save(pdf)
    result = CliRunner().invoke(cli, ["scan", "image", str(frame), str(pdf), "--backend", "zxing",
                                      "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert first["kind"] == "mrz" and first["use"] == "passport_prefill"
    assert first["mrz"]["guest"]["surname"] == "E*******"  # masked by default
    assert "ERIKSSON" not in result.stdout
    assert second["kind"] == "booking" and second["symbology"] == "pdf417"
    unmasked = CliRunner().invoke(cli, ["scan", "image", str(frame), "--unmasked"])
    assert unmasked.exit_code == 0 and "ERIKSSON" in unmasked.stdout


def test_scan_image_nothing_found_and_not_an_image(tmp_path):
    blank = tmp_path / "blank.png"
    synth.place(synth.render("qr", "x"), synth.Degradation(contrast=0.0)).save(blank)
    assert CliRunner().invoke(cli, ["scan", "image", str(blank)]).exit_code == 3
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    assert CliRunner().invoke(cli, ["scan", "image", str(junk)]).exit_code == 2


def test_scan_watch_prints_scans_from_the_simulator():
    with SimulatedScanner(framing="stx-etx") as sim:
        # pyserial flushes input on open, so keep scanning (alternately) until watch has two.
        stop = threading.Event()

        def keep_scanning() -> None:
            while not stop.is_set():
                for payload in (PASSPORT.encode(), b"BK-2026-0042"):
                    sim.send(payload)
                    stop.wait(0.1)

        sender = threading.Thread(target=keep_scanning)
        sender.start()
        try:
            result = CliRunner().invoke(cli, ["scan", "watch", "--port", sim.port, "--framing",
                                              "stx-etx", "--count", "2"])  # fmt: skip
        finally:
            stop.set()
            sender.join()
    assert result.exit_code == 0, result.output
    assert "mrz -> passport_prefill" in result.stdout
    assert "TD3: all checks pass" in result.stdout
    assert "booking -> attach_text" in result.stdout


def test_scan_watch_usage_and_missing_port(tmp_path):
    assert CliRunner().invoke(cli, ["scan", "watch"]).exit_code == 2
    missing = CliRunner().invoke(cli, ["scan", "watch", "--port", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "unavailable" in missing.output


def test_sim_scanner_subprocess_until_sigterm():
    command = [sys.executable, "-c", "from terminal.cli import main; main()", "sim", "scanner",
               "--interval", "0.1", "--framing", "lf"]  # fmt: skip
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:  # fmt: skip
        try:
            assert process.stdout is not None
            ready, _, _ = select.select([process.stdout], [], [], 30)
            assert ready
            port = process.stdout.readline().strip()
            watch = subprocess.run(
                [sys.executable, "-c", "from terminal.cli import main; main()", "scan", "watch",
                 "--port", port, "--framing", "lf", "--count", "3", "--json"],
                cwd=ROOT, capture_output=True, text=True, timeout=60,
            )  # fmt: skip
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(10)
    assert watch.returncode == 0, watch.stderr
    kinds = [json.loads(line)["kind"] for line in watch.stdout.splitlines()]
    assert len(kinds) == 3 and set(kinds) <= {"mrz", "url", "booking", "unknown", "netid"}
    assert process.returncode == 0


def test_every_option_is_documented():
    import click

    from terminal.commands.scan import scan
    from terminal.commands.sim import sim

    docs = (ROOT / "docs" / "barcode.md").read_text(encoding="utf-8")
    commands = [scan.commands["watch"], scan.commands["image"], sim.commands["scanner"]]
    for command in commands:
        for param in command.params:
            if isinstance(param, click.Option):
                flag = max(param.opts, key=len)
                assert flag in docs, f"{command.name} {flag} is not in docs/barcode.md"
