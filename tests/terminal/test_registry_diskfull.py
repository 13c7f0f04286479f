"""Disk full, on a real small filesystem (an 8 MiB tmpfs): refused clearly, nothing lost.

Two layers are shown: the guard refuses before writing while free space is below
store.min_free_bytes; and if the disk fills anyway (guard at 0, another file eats the space)
SQLite's SQLITE_FULL rolls the write back whole. Needs root for `mount`; skipped otherwise.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal.desk.registry import Registry
from terminal.errors import DiskSpaceError, StoreError, StoreFullError
from terminal.store import verify
from terminal.store.database import Store
from tests.terminal.registry_helpers import IDENTITY, card_guest

SIZE = 8 * 1024 * 1024
GUARD = 1024 * 1024


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs",
                             str(mount_point)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def count_events(store: Store) -> int:
    with store.reader() as conn:
        return conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]


def register_until_refused(reg: Registry, saved: list[str], limit: int = 5000) -> Exception:
    for n in range(limit):
        try:
            saved.append(reg.check_in(room=str(100 + n % 30), guests=[card_guest(serial=n)],
                                      operator="C01").stay_id)
        except StoreError as err:
            return err
    raise AssertionError("the small filesystem never filled up")


def test_guard_refuses_with_a_clear_message_and_nothing_is_lost(small_fs: Path):
    path = small_fs / "terminal.db"
    saved: list[str] = []
    with Store.open(path, identity=IDENTITY, create=True, min_free_bytes=GUARD) as store:
        refusal = register_until_refused(Registry(store), saved)
        assert isinstance(refusal, DiskSpaceError)
        assert "nothing was saved" in str(refusal) and "min_free_bytes" in str(refusal)
        assert "存储空间不足" in refusal.message_zh and "未保存" in refusal.message_zh
        assert len(saved) > 50
        assert count_events(store) == len(saved)
        with store.reader() as conn:
            assert verify.verify(conn) == []
    # Reopened (quick_check on open): every saved stay is there.
    with Store.open(path, identity=IDENTITY) as store, store.reader() as conn:
        stays = {r[0] for r in conn.execute("SELECT stay_id FROM stay_view")}
    assert stays == set(saved)


def test_a_disk_that_fills_mid_write_rolls_back_whole(small_fs: Path):
    path = small_fs / "terminal.db"
    filler = small_fs / "filler"
    saved: list[str] = []
    with Store.open(path, identity=IDENTITY, create=True, min_free_bytes=0) as store:
        reg = Registry(store)
        for n in range(20):
            saved.append(reg.check_in(room="101", guests=[card_guest(serial=n)],
                                      operator="C01").stay_id)
        with filler.open("wb") as f:  # another process eats the rest of the disk
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        failure = register_until_refused(reg, saved, limit=200)
        assert isinstance(failure, StoreFullError), failure
        assert "rolled back" in str(failure) and "磁盘已满" in failure.message_zh
        assert count_events(store) == len(saved)
        filler.unlink()
        saved.append(reg.check_in(room="102", guests=[card_guest(serial=99)],
                                  operator="C01").stay_id)  # works again once space is back
        with store.reader() as conn:
            assert verify.verify(conn) == []
            assert {r[0] for r in conn.execute("SELECT stay_id FROM stay_view")} == set(saved)
