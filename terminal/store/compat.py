"""Which programs may write a database: expand-only migrations within a compatible series.

A release can be rolled back (docs/registry.md, "Schema compatibility") only if the previous
program still opens the database the new one migrated. So migrations are expand-only by
default: new tables, new nullable or defaulted columns, new indexes and triggers; the old
program writes its rows without knowing them, and the schema's own rules (triggers, CHECKs)
still hold for it. `schema_compat` (one row, from schema version 6) records

    min_writer_version   the oldest program schema version that may still write: the newest
                         migration marked `breaking` (one an older writer would corrupt)
    last_writer_version  the schema version of the last program that opened it to write

A program opens a newer database when its own version >= min_writer_version, and says so in
the log; otherwise it refuses, naming the path back (`anju store downgrade`, run by the newer
program, which knows both schemas and keeps every event). When a newer program finds that an
older one wrote since (last_writer_version < its own), it re-runs the `refresh` step of each
migration the older one did not know, so derived tables catch up with the events.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from terminal.errors import SchemaTooNewError

log = logging.getLogger(__name__)


class Step(Protocol):
    version: int
    breaking: bool
    refresh: Callable[[sqlite3.Connection], None] | None


def min_writer(steps: Sequence[Step], version: int) -> int:
    """The oldest program version that may write a database at `version`."""
    return max((s.version for s in steps if s.version <= version and s.breaking), default=1)


def has_record(conn: sqlite3.Connection) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'schema_compat'"
        ).fetchone()
        is not None
    )


def read(conn: sqlite3.Connection) -> tuple[int, int] | None:
    """(min_writer_version, last_writer_version), or None before schema version 6."""
    if not has_record(conn):
        return None
    row = conn.execute(
        "SELECT min_writer_version, last_writer_version FROM schema_compat WHERE id = 1"
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else None


def record(conn: sqlite3.Connection, *, min_writer_version: int, writer: int) -> None:
    """Inside the caller's transaction."""
    conn.execute(
        "INSERT INTO schema_compat (id, min_writer_version, last_writer_version, updated_at) "
        "VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
        "min_writer_version = excluded.min_writer_version, "
        "last_writer_version = excluded.last_writer_version, updated_at = excluded.updated_at",
        (min_writer_version, writer, datetime.now(UTC).isoformat()),
    )


def require_writable(
    conn: sqlite3.Connection, path: Path | str, version: int, program: int
) -> None:
    """A database newer than this program: open it if the series allows, else refuse clearly."""
    compat = read(conn)
    if compat is None:
        raise SchemaTooNewError(
            f"{path}: schema version {version} is newer than this program's {program} and "
            "records no compatibility; refusing to open (upgrade Anju instead)"
        )
    minimum = compat[0]
    if program < minimum:
        raise SchemaTooNewError(
            f"{path}: schema version {version} can only be written by programs of schema "
            f"version {minimum} or later; this program is {program}; refusing to open. Path "
            f"back, keeping every event: with the newer Anju, run `anju store downgrade --to "
            f"{program}`, then start this version (or upgrade Anju)"
        )


def on_open(conn: sqlite3.Connection, steps: Sequence[Step], version: int, program: int) -> None:
    """Record this writer; a newer program catches up with what older writers did since."""
    compat = read(conn)
    if compat is None:
        return
    minimum, last = compat
    if version > program:
        log.warning(
            "schema version %d is newer than this program's %d; compatible (writers "
            "from %d on), opening as is",
            version,
            program,
            minimum,
        )
    if last == program:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        if last < program:
            for step in steps:
                if last < step.version <= version and step.refresh is not None:
                    log.info(
                        "refreshing what migration %d derives: an older program (schema "
                        "%d) wrote since",
                        step.version,
                        last,
                    )
                    step.refresh(conn)
        record(conn, min_writer_version=minimum, writer=program)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
