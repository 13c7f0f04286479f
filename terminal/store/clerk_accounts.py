"""The `clerks` table (schema v5): one row per clerk account, disabled but never deleted.

The rules (staff number and PIN shapes, the owner, argon2id hashing) are terminal/desk/clerks.py's;
this module only reads and writes rows. Every write returns how many rows it changed, so the
caller can tell "no such account" apart.
"""

from __future__ import annotations

import sqlite3

_COLUMNS = "staff_no, name, role, active, changed_at, changed_by"
Row = tuple[object, ...]  # staff_no, name, role, active, changed_at, changed_by


def all_rows(conn: sqlite3.Connection) -> list[Row]:
    return conn.execute(f"SELECT {_COLUMNS} FROM clerks ORDER BY role DESC, staff_no").fetchall()


def row(conn: sqlite3.Connection, staff_no: str) -> Row | None:
    found: Row | None = conn.execute(
        f"SELECT {_COLUMNS} FROM clerks WHERE staff_no = ?", (staff_no,)).fetchone()
    return found


def any_active(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM clerks WHERE active = 1 LIMIT 1").fetchone() is not None


def exists(conn: sqlite3.Connection, staff_no: str) -> bool:
    return conn.execute("SELECT 1 FROM clerks WHERE staff_no = ?", (staff_no,)).fetchone() \
        is not None


def active_pin_hash(conn: sqlite3.Connection, staff_no: str) -> str | None:
    found = conn.execute(
        "SELECT pin_hash FROM clerks WHERE staff_no = ? AND active = 1", (staff_no,)).fetchone()
    return str(found[0]) if found else None


def insert(conn: sqlite3.Connection, staff_no: str, *, name: str, role: str, pin_hash: str,
           at: str, by: str) -> int:
    return conn.execute(
        "INSERT INTO clerks (staff_no, name, role, pin_hash, active, created_at, "
        "changed_at, changed_by) VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
        (staff_no, name, role, pin_hash, at, at, by)).rowcount


def set_pin_hash(conn: sqlite3.Connection, staff_no: str, pin_hash: str, *, at: str, by: str
                 ) -> int:
    return conn.execute(
        "UPDATE clerks SET pin_hash = ?, changed_at = ?, changed_by = ? WHERE staff_no = ?",
        (pin_hash, at, by, staff_no)).rowcount


def set_active(conn: sqlite3.Connection, staff_no: str, active: bool, *, at: str, by: str
               ) -> int:
    return conn.execute(
        "UPDATE clerks SET active = ?, changed_at = ?, changed_by = ? WHERE staff_no = ?",
        (int(active), at, by, staff_no)).rowcount
