"""Versioned migrations: all pending steps in one transaction, recorded, never downgrading.

PRAGMA user_version is the schema version (it lives in the file header, so it commits or rolls
back with the DDL); `schema_migrations` keeps the history. A database newer than this code is
refused: an old program must never write into a schema it does not know.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sync.files import create_private
from terminal.errors import MigrationError, SchemaOutdatedError, SchemaTooNewError
from terminal.store import schema

log = logging.getLogger(__name__)


def _rebuild_projection(conn: sqlite3.Connection) -> None:
    from terminal.domain.fold import fold
    from terminal.store import chain, projection

    events = (chain.event_from_row(r) for r in chain.iter_rows(conn))
    for stay in fold(events).values():
        projection.write(conn, stay)


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: Sequence[str]
    after: Callable[[sqlite3.Connection], None] | None = field(default=None)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events, outbox and their rules", schema.V1),
    Migration(2, "projection tables and purge log", schema.V2, _rebuild_projection),
    Migration(3, "device status for the heartbeat", schema.V3),
    Migration(4, "failed clerk sign-ins (login throttle)", schema.V4),
    Migration(5, "clerk accounts (staff number, hashed PIN, owner)", schema.V5),
)
LATEST = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def require_current(conn: sqlite3.Connection, path: Path | str) -> None:
    version = schema_version(conn)
    if version > LATEST:
        raise SchemaTooNewError(
            f"{path}: schema version {version} is newer than this program's {LATEST}; "
            "refusing to open (upgrade Anju instead)"
        )
    if version < LATEST:
        raise SchemaOutdatedError(
            f"{path}: schema version {version}, this program needs {LATEST}: "
            "run `anju store migrate`"
        )


def migrate(conn: sqlite3.Connection, *, target: int = LATEST) -> list[int]:
    """Apply every pending migration up to `target` in one transaction; returns versions applied."""
    current = schema_version(conn)
    if current > LATEST:
        raise SchemaTooNewError(
            f"schema version {current} is newer than this program's {LATEST}; refusing to migrate"
        )
    pending = [m for m in MIGRATIONS if current < m.version <= target]
    if not pending:
        return []
    now = datetime.now(UTC).isoformat()
    conn.execute("BEGIN IMMEDIATE")
    try:
        for migration in pending:
            for statement in migration.statements:
                conn.execute(statement)
            if migration.after is not None:
                migration.after(conn)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, now),
            )
        conn.execute(f"PRAGMA user_version = {int(pending[-1].version)}")
        conn.execute("COMMIT")
    except Exception as err:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise MigrationError(
            f"migration from version {current} failed and was rolled back: {err}"
        ) from err
    applied = [m.version for m in pending]
    log.info("schema migrated from %d to %d", current, applied[-1])
    return applied


def backup(conn: sqlite3.Connection, path: Path) -> Path:
    """A consistent copy next to the database before migrating it (sqlite3 online backup)."""
    target = path.with_name(f"{path.name}.v{schema_version(conn)}.bak")
    create_private(target)  # a full copy of the personal data: 0600 like the store
    dest = sqlite3.connect(target)
    try:
        conn.backup(dest)
    finally:
        dest.close()
    return target
