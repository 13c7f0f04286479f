"""The faketime wrapper's leftovers are removed for ended wrappers only (tests/faketime.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.faketime import remove_stale_files


def test_only_the_files_of_ended_wrappers_are_removed(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])  # a pid that has certainly ended
    gone.wait()
    running = os.getpid()
    names = [f"sem.faketime_sem_{gone.pid}", f"faketime_shm_{gone.pid}",
             f"sem.faketime_sem_{running}", f"faketime_shm_{running}",
             "PostgreSQL.12345", "sem.faketime_sem_notapid"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    removed = remove_stale_files(tmp_path)
    assert sorted(removed) == sorted([f"sem.faketime_sem_{gone.pid}", f"faketime_shm_{gone.pid}"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names[2:])
