"""The disk-space guard: refuse a write up front rather than fail half-way through it."""

from __future__ import annotations

import shutil
from pathlib import Path

from terminal.errors import DiskSpaceError


class DiskGuard:
    def __init__(self, database: Path, min_free_bytes: int) -> None:
        # The WAL and its -shm sit next to the database, so the directory's filesystem counts.
        self.directory = database.resolve().parent
        self.min_free_bytes = min_free_bytes

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.directory).free

    def check(self) -> None:
        free = self.free_bytes()
        if free < self.min_free_bytes:
            raise DiskSpaceError(
                f"refused before writing: {free} bytes free on {self.directory}, below "
                f"store.min_free_bytes={self.min_free_bytes}; nothing was saved, everything "
                "saved before is intact. Free disk space, then retry.",
                f"存储空间不足（剩余 {free // 1024} KB），本次登记未保存，之前保存的记录完好。"
                "请联系技术人员清理空间后重试。",
            )
