"""`anju card info` reads the settings like every command, and says why a port cannot be used:
missing (with the stable names), not permitted (dialout), held by the terminal service."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from drivers.sim.idcard import SimulatedReader
from tests import anju
from tests.web import desk as desk_module
from tests.web.desk import Desk, write_settings

SAM = "05.01-20101117-0001234567-3000000000"


def run_anju(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return anju.run(*args, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", **(env or {})},
                    inherit_env=False)


def reader_settings(tmp_path: Path, port: str, baud: int = 0) -> Path:
    config = write_settings(tmp_path)
    with open(config, "a", encoding="utf-8") as out:
        out.write(f'\n[reader]\nport = "{port}"\nbaud = {baud}\n')
    return config


def test_card_info_takes_the_port_and_baud_from_the_settings(tmp_path: Path) -> None:
    with SimulatedReader(baud=38400) as sim:
        port = sim.port
        config = reader_settings(tmp_path, port, 38400)
        by_option = run_anju("card", "info", "--config", str(config), "--json")
        by_env = run_anju("card", "info", "--json", env={"ANJU_CONFIG": str(config)})
    for result in (by_option, by_env):
        assert result.returncode == 0, result.stderr
        info = json.loads(result.stdout)
        assert (info["port"], info["baud"], info["sam_id"]) == (port, 38400, SAM)


def test_a_missing_port_says_where_readers_appear_and_what_to_set(tmp_path: Path) -> None:
    config = reader_settings(tmp_path, str(tmp_path / "ttyUSB9"))
    result = run_anju("card", "info", "--config", str(config))
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "/dev/serial/by-id/" in result.stderr
    assert "reader.port" in result.stderr and "USB cable" in result.stderr


def test_while_the_service_holds_the_port_it_says_so_not_no_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The service is known by its command line (`anju terminal run`): a real one, not a fork
    # of the fork server (tests/anju.py).
    monkeypatch.setattr(desk_module, "fork_server", None)
    with SimulatedReader() as sim:
        config = reader_settings(tmp_path, sim.port)
        desk = Desk(tmp_path, config, simulate=False)  # waits until its reader is idle
        try:
            result = run_anju("card", "info", "--config", str(config))
        finally:
            desk.stop()
    assert result.returncode == 4, result.stderr
    assert "no reader" not in result.stderr
    assert "in use by the terminal service" in result.stderr
    assert f"pid {desk.service.process.pid}" in result.stderr
    assert "systemctl stop anju-terminal" in result.stderr


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root to run the command as an unprivileged user",
)
def test_a_port_without_permission_names_the_group() -> None:
    visible = Path(tempfile.mkdtemp(prefix="anju-port-", dir="/tmp"))  # pytest's tmp is 0700
    visible.chmod(0o755)
    port = visible / "ttyUSB0"
    port.write_bytes(b"")
    os.chown(port, 0, 20)  # root:dialout, as udev makes a USB serial adapter
    port.chmod(0o660)
    try:
        result = _as_nobody(port)
    finally:
        shutil.rmtree(visible)
    if "Traceback" in result.stderr:  # e.g. the checkout is not readable by nobody
        pytest.skip(f"the unprivileged user cannot run this checkout: {result.stderr[-200:]}")
    assert result.returncode == 2, result.stderr
    assert "no permission" in result.stderr and "usermod -aG dialout" in result.stderr


def _as_nobody(port: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            *anju.PYTHON_ANJU,
            "card",
            "info",
            "--port",
            str(port),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"},
        cwd=Path(__file__).resolve().parents[2],
    )


def test_sync_status_prints_local_times_with_the_zone(tmp_path: Path) -> None:
    """A box in Beijing: 02:00 UTC is shown as 10:00 CST (+08:00); --json keeps UTC."""
    config = write_settings(tmp_path)
    (tmp_path / "sync-state.json").write_text(
        json.dumps(
            {
                "last_success": "2026-03-01T02:00:00.000000Z",
                "last_error": "ConnectionError",
                "last_error_at": "2026-03-01T02:05:30.000000Z",
                "last_heartbeat": "2026-03-01T02:06:00.000000Z",
            }
        ),
        "utf-8",
    )
    assert run_anju("store", "init", "--config", str(config)).returncode == 0
    text = run_anju("sync", "status", "--config", str(config))
    assert text.returncode == 0, text.stderr
    assert "last success   2026-03-01 10:00:00 CST (+08:00)" in text.stdout
    assert "at 2026-03-01 10:05:30 CST (+08:00)" in text.stdout
    assert "02:00:00" not in text.stdout
    doc = json.loads(run_anju("sync", "status", "--config", str(config), "--json").stdout)
    assert doc["last_success"] == "2026-03-01T02:00:00.000000Z"


def test_a_lock_held_by_a_process_we_may_not_inspect_names_the_service(tmp_path: Path) -> None:
    """As a technician's own user: the service's open files are not readable, its command line
    is; a lock error then names the service, and no lock names nothing."""
    from terminal.doctor.portcheck import diagnose

    port = tmp_path / "ttyUSB0"
    port.write_bytes(b"")
    proc = tmp_path / "proc"
    service = proc / "4242"
    service.mkdir(parents=True)  # no fd/ directory: as unreadable as another user's
    (service / "cmdline").write_bytes(b"/opt/anju/.venv/bin/anju\0terminal\0run\0--config\0x")
    (proc / "77").mkdir()
    (proc / "77" / "cmdline").write_bytes(b"bash\0")
    lock = f"could not exclusively lock port {port}: [Errno 11] Resource temporarily unavailable"
    found = diagnose(str(port), lock, proc=proc)
    assert found.cause == "in_use_by_service" and [h.pid for h in found.holders] == [4242]
    assert "pid 4242" in found.english and "登记服务" in found.chinese
    assert diagnose(str(port), "read timed out", proc=proc).cause == "other"
