"""terminal/system/settings_file.py: the technician's settings file edited in place,
written atomically."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest
import tomlkit

from sync import atomic_file
from terminal.errors import ConfigError
from terminal.system.settings_file import read_document, set_values, write_text_atomic

TECHNICIAN = """\
# Guesthouse 12, front desk. Ask Li before changing anything below.

[web]
clerk_pin = "4821"      # changed 2026-03-02
locale = 'en'

[sync]
# the old address, replaced at provisioning
server_url = "http://old.example"   # keep this comment
poll_interval_s = 10

[scanner]
netid_patterns = [
    "^CTID",   # the placeholder
    "^NETID",
]
"""


def edit(text: str, values: dict[str, object]) -> str:
    doc = tomlkit.parse(text)
    set_values(doc, values)
    return doc.as_string()


def test_only_the_named_keys_change():
    out = edit(TECHNICIAN, {"sync.server_url": "https://central.example"})
    assert out == TECHNICIAN.replace('"http://old.example"', '"https://central.example"')


def test_missing_keys_go_to_the_end_of_their_table_and_missing_tables_to_the_end():
    out = edit(TECHNICIAN, {"sync.credential_file": "/srv/cred.json",
                            "device.device_id": "gz-0001", "device.site_code": "4401040001"})
    assert out.startswith(TECHNICIAN.split("\n[scanner]")[0].replace(
        "poll_interval_s = 10\n", 'poll_interval_s = 10\ncredential_file = "/srv/cred.json"\n'))
    assert out.endswith('\n[device]\ndevice_id = "gz-0001"\nsite_code = "4401040001"\n')
    assert tomllib.loads(out)["scanner"]["netid_patterns"] == ["^CTID", "^NETID"]


@pytest.mark.parametrize("text", [
    'sync = { server_url = "http://old.example", poll_interval_s = 3 }\n',
    'sync.server_url = "http://old.example"\nsync.poll_interval_s = 3\n',
])
def test_inline_tables_and_dotted_keys_are_edited_where_they_are(text: str):
    out = edit(text, {"sync.server_url": "https://central.example"})
    assert out == text.replace("http://old.example", "https://central.example")


def test_an_empty_document_gets_plain_tables():
    out = edit("", {"sync.server_url": "https://c.example", "device.device_id": "gz-1"})
    assert tomllib.loads(out) == {"sync": {"server_url": "https://c.example"},
                                  "device": {"device_id": "gz-1"}}


def test_a_section_that_is_not_a_table_is_refused():
    with pytest.raises(ConfigError, match=r"\[sync\] must be a table"):
        edit('sync = "oops"\n', {"sync.server_url": "https://c.example"})


def test_a_missing_file_reads_as_an_empty_document(tmp_path: Path):
    assert read_document(tmp_path / "absent.toml").as_string() == ""


@pytest.mark.parametrize("text", [
    '[sync]\nserver_url = "unterminated\n',
    "[sync]\nserver_url = 1\nserver_url = 2\n",  # a key twice
    "[web]\n[web]\n",  # a table twice
    "not toml at all\n",
])
def test_a_malformed_file_is_refused_naming_the_problem(tmp_path: Path, text: str):
    path = tmp_path / "terminal.toml"
    path.write_text(text, "utf-8")
    with pytest.raises(ConfigError, match=r"is not valid TOML: .*line \d+.*nothing was written"):
        read_document(path)


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path):
    path = tmp_path / "terminal.toml"
    path.write_bytes(b'[web]\noperator = "\xff"\n')
    with pytest.raises(ConfigError, match="cannot read settings file"):
        read_document(path)


def write_file(path: Path, text: str, mode: int) -> Path:
    path.write_text(text, "utf-8")
    path.chmod(mode)
    return path


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o644])
def test_the_file_keeps_its_mode_whatever_the_umask(tmp_path: Path, mode: int):
    path = write_file(tmp_path / "terminal.toml", TECHNICIAN, mode)
    old_umask = os.umask(0o077)
    try:
        assert write_text_atomic(path, TECHNICIAN + "# more\n") is True
    finally:
        os.umask(old_umask)
    assert mode_of(path) == mode
    assert path.read_text("utf-8") == TECHNICIAN + "# more\n"
    assert [p.name for p in tmp_path.iterdir()] == ["terminal.toml"]  # no temporary left


def test_a_new_file_follows_the_umask(tmp_path: Path):
    old_umask = os.umask(0o027)
    try:
        write_text_atomic(tmp_path / "etc" / "terminal.toml", "[web]\n")
    finally:
        os.umask(old_umask)
    assert mode_of(tmp_path / "etc" / "terminal.toml") == 0o640


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_the_file_keeps_its_owner_and_group(tmp_path: Path):
    path = write_file(tmp_path / "terminal.toml", TECHNICIAN, 0o640)
    os.chown(path, 4321, 4322)
    write_text_atomic(path, TECHNICIAN + "# more\n")
    assert (path.stat().st_uid, path.stat().st_gid) == (4321, 4322)


def test_an_unchanged_file_is_not_written(tmp_path: Path):
    path = write_file(tmp_path / "terminal.toml", TECHNICIAN, 0o600)
    before = path.stat()
    assert write_text_atomic(path, TECHNICIAN) is False
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_the_write_replaces_the_file_atomically(tmp_path: Path):
    path = write_file(tmp_path / "terminal.toml", TECHNICIAN, 0o600)
    inode = path.stat().st_ino
    write_text_atomic(path, TECHNICIAN + "# more\n")
    assert path.stat().st_ino != inode  # a new file renamed over the old one, never truncated


def test_a_symlink_is_written_through(tmp_path: Path):
    real = write_file(tmp_path / "real.toml", TECHNICIAN, 0o600)
    link = tmp_path / "terminal.toml"
    link.symlink_to(real)
    write_text_atomic(link, TECHNICIAN + "# more\n")
    assert link.is_symlink() and real.read_text("utf-8") == TECHNICIAN + "# more\n"


def test_a_failed_write_leaves_the_file_untouched(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch):
    path = write_file(tmp_path / "terminal.toml", TECHNICIAN, 0o600)

    def no_space(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, "replace", no_space)
    with pytest.raises(ConfigError, match="No space left on device; it was left as it was"):
        write_text_atomic(path, TECHNICIAN + "# more\n")
    assert path.read_text("utf-8") == TECHNICIAN and mode_of(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["terminal.toml"]
