"""Service faults recorded for `anju doctor` and the heartbeat (terminal/system/service_faults.py),
through the command anju-failure@.service runs with the environment systemd gives an
OnFailure= unit."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from click.testing import CliRunner

from terminal.cli import cli
from terminal.system import service_faults

MONITOR = {
    "MONITOR_UNIT": "anju-terminal.service",
    "MONITOR_SERVICE_RESULT": "watchdog",
    "MONITOR_EXIT_CODE": "killed",
    "MONITOR_EXIT_STATUS": "ABRT",
    "MONITOR_INVOCATION_ID": "0f" * 16,
}


def run(tmp_path: Path, *args: str, **env: str) -> str:
    result = CliRunner().invoke(
        cli, ["faults", *args], env={"STATE_DIRECTORY": str(tmp_path), **env}
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_record_takes_what_systemd_passes(tmp_path: Path) -> None:
    assert "1 time so far" in run(tmp_path, "record", **MONITOR)
    assert "2 times so far" in run(tmp_path, "record", **MONITOR)
    doc = json.loads((tmp_path / service_faults.FILE_NAME).read_text())
    entry = doc["units"]["anju-terminal.service"]
    assert entry["count"] == 2 and entry["first_at"] <= entry["last_at"]
    assert entry["last"] == {
        **entry["last"],
        "result": "watchdog",
        "exit_code": "killed",
        "exit_status": "ABRT",
        "invocation_id": "0f" * 16,
    }
    assert len(doc["recent"]) == 2
    assert stat.S_IMODE(os.stat(tmp_path / service_faults.FILE_NAME).st_mode) & 0o007 == 0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_show_lists_each_unit_and_clear_forgets(tmp_path: Path) -> None:
    assert run(tmp_path, "show") == "no service faults recorded\n"
    run(tmp_path, "record", **MONITOR)
    run(
        tmp_path,
        "record",
        **{
            **MONITOR,
            "MONITOR_UNIT": "anju-sync.service",
            "MONITOR_SERVICE_RESULT": "start-limit-hit",
        },
    )
    shown = run(tmp_path, "show")
    assert "anju-terminal.service: failed 1 times" in shown and "(watchdog, killed/ABRT)" in shown
    assert "anju-sync.service: failed 1 times" in shown and "start-limit-hit" in shown
    assert set(json.loads(run(tmp_path, "show", "--json"))["units"]) == {
        "anju-terminal.service",
        "anju-sync.service",
    }
    assert run(tmp_path, "clear") == "cleared\n"
    assert run(tmp_path, "show") == "no service faults recorded\n"


def test_the_recent_list_is_bounded_and_a_damaged_record_starts_afresh(tmp_path: Path) -> None:
    for i in range(service_faults.RECENT + 5):
        fault = service_faults.Fault(unit=f"u{i}.service", at=service_faults.now_utc())
        service_faults.record(tmp_path, fault)
    doc = service_faults.load(tmp_path)
    assert len(doc["recent"]) == service_faults.RECENT
    assert doc["recent"][-1]["unit"] == "u24.service"
    (tmp_path / service_faults.FILE_NAME).write_text("{not json")
    fault = service_faults.Fault(unit="anju-sync.service", at=service_faults.now_utc())
    doc = service_faults.record(tmp_path, fault)
    assert doc["units"]["anju-sync.service"]["count"] == 1


def test_the_failure_unit_runs_this_command() -> None:
    unit = (Path(__file__).resolve().parents[2] / "systemd" / "anju-failure@.service").read_text()
    assert "ExecStart=/opt/anju/venv/bin/anju faults record --unit %i" in unit
    assert "StateDirectory=anju" in unit  # $STATE_DIRECTORY: where `record` writes
