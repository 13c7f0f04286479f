"""Connections: the pragmas every connection gets, and the integrity check on open.

    journal_mode=WAL      readers never block the writer, the writer never blocks readers
    synchronous=FULL      a commit is on disk (WAL fsynced) before "saved" is shown
    foreign_keys=ON       outbox and amend/void links must point at real events
    secure_delete=ON      a purged payload is overwritten, not left in free pages
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from terminal.errors import CorruptionError, StoreError


def connect(
    path: Path, *, busy_timeout_ms: int = 5000, readonly: bool = False
) -> sqlite3.Connection:
    """A connection in autocommit mode: transactions are begun explicitly (BEGIN IMMEDIATE)."""
    if readonly and not path.exists():
        raise StoreError(f"no database at {path}", f"找不到数据库：{path}")
    try:
        conn = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if readonly:
            conn.execute("PRAGMA query_only = ON")
        else:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"{path}: cannot switch to WAL (journal_mode={mode})")
            conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as err:
        raise CorruptionError(
            f"{path}: cannot open as SQLite: {err}", "数据库文件损坏或无法打开"
        ) from err
    return conn


def quick_check(conn: sqlite3.Connection, *, full: bool = False) -> None:
    """PRAGMA quick_check (or the slower integrity_check); raise unless it answers "ok"."""
    pragma = "integrity_check" if full else "quick_check"
    try:
        rows = [r[0] for r in conn.execute(f"PRAGMA {pragma}")]
    except sqlite3.DatabaseError as err:
        raise CorruptionError(f"{pragma} failed: {err}", "数据库完整性检查失败") from err
    if rows != ["ok"]:
        raise CorruptionError(f"{pragma}: {'; '.join(rows[:5])}", "数据库完整性检查未通过")
