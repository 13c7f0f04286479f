"""`anju provision` stops with the fix, and writes nothing, on the faults not caused in
test_provision_checks.py: a clock a day off the server's (libfaketime on the real command) and
a disk below `store.min_free_bytes`."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests import anju
from tests.central.central_helpers import Admin
from tests.faketime import faketime
from tests.terminal.test_provision_checks import admin, central, settings, written

__all__ = ["admin", "central"]  # fixtures


def provision(path: Path, admin: Admin, *wrapper: str) -> subprocess.CompletedProcess[str]:
    """`anju provision` forked (tests/anju.py), or under `wrapper` a fresh interpreter."""
    args = ["provision", "--server", admin.url, "--token", admin.token(admin.site()),
            "--config", str(path), "--no-reader"]
    if not wrapper:
        return anju.run(*args, env={"LANG": "C.UTF-8"}, timeout=120)
    return subprocess.run([*wrapper, *anju.PYTHON_ANJU, *args], capture_output=True, text=True,
                          timeout=120, check=False, cwd=anju.ROOT,
                          env={**os.environ, "LANG": "C.UTF-8"})


@pytest.mark.skipif(shutil.which("faketime") is None, reason="faketime is not installed")
def test_a_clock_a_day_off_stops_before_anything_is_written(tmp_path: Path, admin: Admin):
    path = settings(tmp_path)
    before = path.read_bytes()
    result = provision(path, admin, *faketime("-f", "+1d"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ clock      clock off by -86" in result.stdout
    assert "fix: set the time: timedatectl timesync-status (NTP)" in result.stdout
    assert "· reader     not checked" in result.stdout
    assert path.read_bytes() == before
    assert written(tmp_path) == ["credential.json.installation"]  # the same token may ask again


def test_a_disk_below_the_threshold_stops_with_the_fix(tmp_path: Path, admin: Admin):
    path = settings(tmp_path, "[store]\nmin_free_bytes = 1000000000000000\n")
    text = path.read_text("utf-8")  # one [store] table: move the threshold into it
    text = text.replace("\n[store]\nmin_free_bytes = 1000000000000000\n", "\n").replace(
        "[store]\n", "[store]\nmin_free_bytes = 1000000000000000\n", 1)
    path.write_text(text, "utf-8")
    before = path.read_bytes()
    result = provision(path, admin)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ disk" in result.stdout and "· heartbeat  not checked" in result.stdout
    assert "fix:" in result.stdout.split("✗ disk", 1)[1]
    assert path.read_bytes() == before
    assert written(tmp_path) == ["credential.json.installation"]
