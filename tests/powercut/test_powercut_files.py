"""Power cuts while the terminal replaces a file that must survive: old or new, never partial.

The settings file (as `anju provision` edits it), the credential and the sync state file are
each rewritten on the power-loss filesystem (tests/powercut/fusefs.py) with the power going at
every change the write makes, in both loss models. After each cut the durable image holds the
old version or the new one byte for byte, never a part, never nothing; and once the write
returned, the new one.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from sync.atomic_file import write_json_atomic
from terminal.system.settings_file import write_text_atomic
from terminal.uploading.sync_service import SyncState
from tests.powercut.powerfs import PowerFS, fuse_available

pytestmark = pytest.mark.skipif(
    fuse_available() is not None, reason=f"FUSE unusable: {fuse_available()}"
)

OLD_SETTINGS = '# the technician\'s note\n[device]\ndevice_id = "gz-0001"\n' + "#" * 5000 + "\n"
NEW_SETTINGS = OLD_SETTINGS.replace("gz-0001", "gz-0002") + '[sync]\nserver_url = "http://c"\n'
OLD_CREDENTIAL = {"device_id": "gz-0001", "site_code": "4401040001", "secret": "a" * 64}
NEW_CREDENTIAL = {**OLD_CREDENTIAL, "device_id": "gz-0002", "secret": "b" * 64}


def _settings(path: Path, new: bool) -> None:
    write_text_atomic(path, NEW_SETTINGS if new else OLD_SETTINGS)


def _credential(path: Path, new: bool) -> None:
    write_json_atomic(path, NEW_CREDENTIAL if new else OLD_CREDENTIAL, mode=0o600)


def _state(path: Path, new: bool) -> None:
    SyncState(
        last_success="2025-03-02T02:00:00Z" if new else "2025-03-01T02:00:00Z",
        last_heartbeat="x" * 3000 if new else None,
    ).save(path)


WRITERS: dict[str, Callable[[Path, bool], None]] = {
    "terminal.toml": _settings,
    "credential.json": _credential,
    "sync-state.json": _state,
}


def _content(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def _versions(tmp_path: Path, name: str) -> tuple[bytes, bytes]:
    for new in (False, True):
        WRITERS[name](tmp_path / f"v{new}" / name, new)
    return (tmp_path / "vFalse" / name).read_bytes(), (tmp_path / "vTrue" / name).read_bytes()


@pytest.mark.parametrize("reorder", [False, True], ids=["drop", "reorder"])
@pytest.mark.parametrize("name", sorted(WRITERS))
def test_a_power_cut_at_any_step_leaves_the_old_or_the_new_file(
    tmp_path: Path, name: str, reorder: bool
) -> None:
    old, new = _versions(tmp_path, name)
    image = tmp_path / "image"
    image.mkdir()
    (image / "etc").mkdir()
    (image / "etc" / name).write_bytes(old)
    if name == "credential.json":
        (image / "etc" / name).chmod(0o600)
    cut, outcomes = 0, set()
    while True:
        cut += 1
        out = tmp_path / f"out{cut}"
        with PowerFS(image, tmp_path / "mnt", out, seed=cut, reorder=reorder) as fs:
            start = fs.ops()
            fs.arm(cut)
            try:
                WRITERS[name](tmp_path / "mnt" / "etc" / name, True)
                returned = True
            except Exception:  # the power went: EIO, as ConfigError or OSError
                returned = False
            changes = fs.ops() - start
            fs.cut()
        durable = _content(out / "etc" / name)
        assert durable in (old, new), f"cut at change {cut}: {durable!r:.80}"
        if returned:
            assert durable == new, f"cut at change {cut}: written, then lost"
        if name == "credential.json":
            assert stat.S_IMODE((out / "etc" / name).stat().st_mode) == 0o600
        outcomes.add(durable == new)
        if changes < cut:  # the write finished before the power went: every step was cut
            break
    assert cut > 4 and outcomes == {False, True}
    print(f"{name}: {cut} cut points ({'reorder' if reorder else 'drop'})")
    assert name != "sync-state.json" or json.loads(new)["last_success"].startswith("2025-03-02")
