"""`anju sim reader`: port path first on stdout, cycling cards, clean exit on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import serial
from click.testing import CliRunner

from drivers.idcard import codec
from drivers.idcard.codec import ResponseDecoder, Status
from terminal.cli import cli
from tests import anju
from tests.forkserver import Forked


def _first_line(out: Path, process: subprocess.Popen[bytes] | Forked) -> str:
    deadline = time.monotonic() + 30  # a bound on failure only
    while not (text := out.read_text("utf-8")).endswith("\n"):
        assert process.poll() is None and time.monotonic() < deadline, "no port printed"
        time.sleep(0.02)
    return text.partition("\n")[0]


def _find(port: serial.Serial) -> Status | None:
    decoder = ResponseDecoder()
    port.reset_input_buffer()
    port.write(codec.FIND_CARD.encode())
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        frames = decoder.feed(port.read(max(port.in_waiting, 1)))
        if frames:
            return frames[0].status
    return None


def test_sim_reader_serves_until_sigterm(tmp_path: Path) -> None:
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    process = anju.start(["sim", "reader", "--present", "0.3", "--absent", "0.2", "--seed", "1"],
                         out, err=err)
    try:
        port_path = _first_line(out, process)
        assert Path(port_path).is_symlink()
        seen: set[Status | None] = set()
        with serial.Serial(port_path, 115200, timeout=0.02) as port:
            deadline = time.monotonic() + 10
            while seen != {Status.CARD_FOUND, Status.FIND_FAILED}:
                assert time.monotonic() < deadline, f"cards never cycled: {seen}"
                seen.add(_find(port))
        process.send_signal(signal.SIGTERM)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    errors = err.read_text("utf-8")
    assert process.returncode == 0, errors
    assert "cards" in errors
    assert not Path(port_path).exists()


def test_sim_reader_rejects_a_bad_fault_list() -> None:
    result = CliRunner().invoke(cli, ["sim", "reader", "--faults", "gremlins"])
    assert result.exit_code == 2 and "gremlins" in result.output


def test_sim_reader_help_lists_the_faults() -> None:
    result = CliRunner().invoke(cli, ["sim", "reader", "--help"])
    assert result.exit_code == 0
    for name in ("noise", "split", "corrupt", "slow", "left", "unplug", "drop", "transient"):
        assert name in result.output
