"""`anju provision` and the technician's settings file: edited in place, never rewritten.

The central server is a fake client here (tests/sync/test_uploader_e2e.py provisions against a
real one); what is checked is what happens to the files on the terminal.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner, Result

from drivers.sim.idcard import SimulatedReader
from sync.messages import Enrolment
from terminal.cli import cli
from terminal.commands import provision as provision_module
from terminal.config import load_config

SERVER = "https://central.example"
SECRET = "s" * 43


class FakeClient:
    """Stands in for SyncClient: answers one enrolment and counts the calls."""

    calls: ClassVar[list[str]] = []

    def __init__(self, server_url: str, **kwargs: Any) -> None:
        self.server_url = server_url
        self.offset = 0.4

    def server_time(self) -> None:
        self.calls.append("time")

    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def enroll(self, token: str, installation_id: str, software_version: str) -> Enrolment:
        self.calls.append("enroll")
        return Enrolment(device_id="gz-0042", site_code="4401060001", site_name="测试旅馆",
                         secret=SECRET, server_time="2026-11-28T00:00:00Z")

    def heartbeat(self, **kwargs: Any) -> None:
        self.calls.append("heartbeat")


@pytest.fixture(autouse=True)
def fake_client(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    FakeClient.calls = []
    monkeypatch.setattr(provision_module, "SyncClient", FakeClient)
    return FakeClient.calls


def settings_text(tmp_path: Path) -> str:
    """A technician's file: comments, blank lines, their own order, settings we never touch."""
    return f"""\
# Anju terminal, guesthouse 12. Edited by Wang, 2026-11-02.

[web]
clerk_pin = "4821"   # ask the owner before changing
operator = "desk-1"

# sync first set up by hand; provisioning fills in the rest
[sync]
server_url = "http://old.example"   # the test server
credential_file = "{tmp_path / 'credential.json'}"
state_file = "{tmp_path / 'sync-state.json'}"

[scanner]
netid_patterns = ["^CTID", "^NETID"]

[store]
database = "{tmp_path / 'terminal.db'}"
retention_days = 45
"""


def provision(path: Path) -> Result:
    return CliRunner().invoke(cli, ["provision", "--server", SERVER + "/", "--token", "t0ken",
                                    "--config", str(path), "--no-reader"])


def write_settings(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / "terminal.toml"
    path.write_text(text, "utf-8")
    path.chmod(mode)
    return path


def test_only_the_provisioned_keys_change(tmp_path: Path, fake_client: list[str]):
    original = settings_text(tmp_path)
    path = write_settings(tmp_path, original)
    result = provision(path)
    assert result.exit_code == 0, result.output
    assert path.read_text("utf-8") == original.replace(
        '"http://old.example"', f'"{SERVER}"'
    ) + '\n[device]\ndevice_id = "gz-0042"\nsite_code = "4401060001"\n'
    config = load_config(path)
    assert config.require_identity().device_id == "gz-0042"
    assert config["scanner.netid_patterns"] == ("^CTID", "^NETID")  # a list, not its repr
    assert fake_client == ["time", "enroll", "heartbeat"]


def test_an_existing_identity_is_updated_in_its_place(tmp_path: Path):
    original = ('[device]\ndevice_id = "gz-0001"   # the old box\nsite_code = "4401040001"\n\n'
                + settings_text(tmp_path))
    path = write_settings(tmp_path, original)
    assert provision(path).exit_code == 0
    assert path.read_text("utf-8") == (
        original.replace('"gz-0001"', '"gz-0042"').replace('"4401040001"', '"4401060001"')
        .replace('"http://old.example"', f'"{SERVER}"'))


def test_provisioning_again_changes_nothing(tmp_path: Path):
    path = write_settings(tmp_path, settings_text(tmp_path))
    assert provision(path).exit_code == 0
    first, before = path.read_bytes(), path.stat()
    result = provision(path)
    assert result.exit_code == 0, result.output
    after = path.stat()
    assert path.read_bytes() == first
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.parametrize("mode", [0o600, 0o640])
def test_the_settings_file_keeps_its_mode_and_the_credential_is_private(tmp_path: Path,
                                                                        mode: int):
    path = write_settings(tmp_path, settings_text(tmp_path), mode)
    assert provision(path).exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == mode
    credential = tmp_path / "credential.json"
    assert stat.S_IMODE(credential.stat().st_mode) == 0o600
    assert json.loads(credential.read_text("utf-8"))["secret"] == SECRET
    assert SECRET not in path.read_text("utf-8")  # the secret lives in the credential only


@pytest.mark.parametrize(("text", "message"), [
    ('[sync]\nserver_url = "http://old.example\n', "is not valid TOML"),
    ("[web]\nclerk_pin = 1\nclerk_pin = 2\n", "is not valid TOML"),
    ('# a note\n[web]\ncolour = "blue"\n', "unknown setting(s): web.colour"),
])
def test_a_bad_file_is_refused_before_enrolment_and_left_untouched(
        tmp_path: Path, fake_client: list[str], text: str, message: str):
    path = write_settings(tmp_path, text, 0o640)
    before = path.stat()
    result = provision(path)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    after = path.stat()
    assert path.read_text("utf-8") == text
    assert (after.st_ino, after.st_mtime_ns, stat.S_IMODE(after.st_mode)) == (
        before.st_ino, before.st_mtime_ns, 0o640)
    assert fake_client == []  # nothing was asked of the server


def test_a_failed_write_after_enrolment_says_so_and_leaves_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    original = settings_text(tmp_path)
    path = write_settings(tmp_path, original)

    real_replace = os.replace

    def settings_read_only(src: Any, dst: Any) -> None:
        if Path(dst) == path:
            raise OSError(30, "Read-only file system")
        real_replace(src, dst)  # the credential is written as usual

    monkeypatch.setattr("sync.atomic_file.os.replace", settings_read_only)
    result = provision(path)
    assert result.exit_code == 2
    assert "enrolled as gz-0042, but cannot write settings file" in result.output
    assert "again with the same token" in result.output
    assert path.read_text("utf-8") == original
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "credential.json", "credential.json.installation", "terminal.toml"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file away")
def test_as_root_the_credential_goes_to_the_state_folders_owner(tmp_path: Path):
    """`sudo anju provision` on a terminal: the uploader runs as `anju` and must read it."""
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 4321, 4322)  # what the package makes of /var/lib/anju for `anju`
    text = settings_text(tmp_path).replace(str(tmp_path / "credential.json"),
                                           str(state / "credential.json"))
    path = write_settings(tmp_path, text, 0o640)
    assert provision(path).exit_code == 0
    for name in ("credential.json", "credential.json.installation"):
        info = (state / name).stat()
        assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (4321, 4322, 0o600)
    assert path.stat().st_uid == os.geteuid()  # the settings file stays whose it was


def test_the_packages_settings_template_takes_a_provisioning(tmp_path: Path):
    """The commented template the package installs: provision fills it, comments stay."""
    from terminal.settings_template import render

    template = render().replace('# credential_file = "/var/lib/anju/credential.json"',
                                f'credential_file = "{tmp_path / "credential.json"}"')
    path = write_settings(tmp_path, template, 0o640)
    assert provision(path).exit_code == 0
    config = load_config(path)
    assert config.require_identity().device_id == "gz-0042"
    assert config["sync.server_url"] == SERVER
    text = path.read_text("utf-8")
    assert text.startswith(render().split("\n[device]")[0])  # header untouched
    assert "# retention_days = 30" in text


def test_the_ports_are_set_with_the_identity(tmp_path: Path):
    scanner = tmp_path / "scanner"  # present: a serial scanner is not probed
    scanner.touch()
    path = write_settings(tmp_path, settings_text(tmp_path))
    with SimulatedReader() as reader:
        result = CliRunner().invoke(cli, ["provision", "--server", SERVER, "--token", "t0ken",
                                          "--config", str(path), "--reader-port", reader.port,
                                          "--scanner-port", str(scanner)])
        assert result.exit_code == 0, result.output
        config = load_config(path)
        assert (config["reader.port"], config["scanner.port"]) == (reader.port, str(scanner))
        assert config["reader.baud"] == 115200  # what the probe found, written down
    assert 'clerk_pin = "4821"   # ask the owner before changing' in path.read_text("utf-8")
