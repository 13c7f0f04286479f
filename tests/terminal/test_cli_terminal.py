"""`anju config show` and `anju terminal run` refusing bad settings with a clear message."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests import anju


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return anju.run(*args)


def test_config_show_lists_every_setting_and_hides_the_pin(tmp_path: Path) -> None:
    config = tmp_path / "terminal.toml"
    config.write_text('[device]\ndevice_id = "gz-0001"\nsite_code = "4401040001"\n'
                      '[web]\nclerk_pin = "123456"\nport = 8090\n')
    done = _run("config", "show", "--config", str(config), "--help-text")
    assert done.returncode == 0, done.stderr
    assert "device.device_id = gz-0001" in done.stdout
    assert "web.port = 8090" in done.stdout and "web.locale = zh_CN" in done.stdout
    assert "web.host = 127.0.0.1" in done.stdout
    assert "web.clerk_pin = (set)" in done.stdout and "123456" not in done.stdout
    assert "TCP port of the front-desk page." in done.stdout


def test_terminal_run_refuses_a_bad_setting_without_a_trace(tmp_path: Path) -> None:
    config = tmp_path / "terminal.toml"
    config.write_text('[web]\nlocale = "fr"\n')
    done = _run("terminal", "run", "--config", str(config))
    assert done.returncode == 2
    assert "web.locale" in done.stderr and "Traceback" not in done.stderr
