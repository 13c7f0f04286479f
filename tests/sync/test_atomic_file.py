"""terminal/system/atomic_file.py: the one writer of files that must survive
(power cuts: powercut/)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from sync import atomic_file
from sync.atomic_file import write_atomic, write_json_atomic
from terminal.uploading.sync_service import SyncState


def test_a_secret_gets_exactly_its_mode_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o000)
    try:
        write_json_atomic(tmp_path / "credential.json", {"secret": "s"}, mode=0o600)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "credential.json").stat().st_mode) == 0o600


def test_a_wider_file_is_narrowed_to_the_mode_asked(tmp_path: Path) -> None:
    path = tmp_path / "credential.json"
    path.write_text("{}")
    path.chmod(0o644)
    write_json_atomic(path, {}, mode=0o600)  # same content, wrong mode: rewritten
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("fails", ["write", "fsync", "replace"])
def test_an_error_at_any_step_leaves_the_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: str
) -> None:
    path = tmp_path / "sync-state.json"
    SyncState(last_success="2025-03-01T02:00:00Z").save(path)

    def broken(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_file.os, fails, broken)
    with pytest.raises(OSError, match="No space left"):
        SyncState(last_success="2025-03-02T02:00:00Z").save(path)
    assert json.loads(path.read_text())["last_success"] == "2025-03-01T02:00:00Z"
    assert [p.name for p in tmp_path.iterdir()] == ["sync-state.json"]


def test_the_folder_is_fsynced_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_replace, real_fsync = os.replace, os.fsync

    def replace(src: str, dst: str) -> None:
        calls.append("replace")
        real_replace(src, dst)

    def fsync(fd: int) -> None:
        calls.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    monkeypatch.setattr(atomic_file.os, "replace", replace)
    monkeypatch.setattr(atomic_file.os, "fsync", fsync)
    assert write_atomic(tmp_path / "f", b"new") is True
    assert calls == ["fsync file", "replace", "fsync dir"]


def test_an_io_error_on_the_folder_fsync_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(5, "Input/output error")
        real_fsync(fd)

    monkeypatch.setattr(atomic_file.os, "fsync", fsync)
    with pytest.raises(OSError, match="Input/output"):
        write_atomic(tmp_path / "f", b"new")  # not durable: never reported as written
