"""Versioned migrations: all pending steps in one transaction, recorded; a way back for each.

PRAGMA user_version is the schema version (it lives in the file header, so it commits or rolls
back with the DDL); `schema_migrations` keeps the history. Migrations are expand-only unless
marked `breaking`: a database newer than this code is opened when the compatible series allows
it (terminal/store/compat.py) and refused otherwise, with the way back (`downgrade`, run by the
newer program: every migration carries its `down` statements, which never touch an event).
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
from terminal.store import compat, schema

log = logging.getLogger(__name__)


def _rebuild_projection(conn: sqlite3.Connection) -> None:
    from terminal.domain.fold import fold
    from terminal.store import event_chain, stay_views

    events = (event_chain.event_from_row(r) for r in event_chain.iter_rows(conn))
    for stay in fold(events).values():
        stay_views.write(conn, stay)


def _events_sql(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'events'"
                       ).fetchone()
    return str(row[0])


def _rewrite_events_checks(conn: sqlite3.Connection, pairs: Sequence[tuple[str, str]]) -> None:
    """Replace CHECK texts of the events table in place (schema.py, "v7"); every text must be
    there exactly once, so a schema edited by hand fails the migration instead of half of it."""
    sql = _events_sql(conn)
    for old, new in pairs:
        if sql.count(old) != 1:
            raise MigrationError(f"events table: expected the constraint {old!r} once")
        sql = sql.replace(old, new)
    cookie = int(conn.execute("PRAGMA schema_version").fetchone()[0])
    conn.execute("PRAGMA writable_schema = ON")
    try:
        conn.execute("UPDATE sqlite_schema SET sql = ? WHERE type = 'table' AND name = 'events'",
                     (sql,))
        conn.execute(f"PRAGMA schema_version = {cookie + 1}")  # other connections re-read it
    finally:
        conn.execute("PRAGMA writable_schema = OFF")
    problem = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if problem != "ok":
        raise MigrationError(f"events table after widening its checks: {problem}")


def _widen_kinds(conn: sqlite3.Connection) -> None:
    _rewrite_events_checks(conn, [(schema.KINDS_V1, schema.KINDS_V7),
                                  (schema.TARGETED_V1, schema.TARGETED_V7)])


def _narrow_kinds(conn: sqlite3.Connection) -> None:
    """The way back from 7: only while no check-out was undone (an older program could not
    read that event); otherwise refused, and the newer program keeps the store."""
    if conn.execute("SELECT 1 FROM events WHERE kind = 'check_out_undone' LIMIT 1").fetchone():
        raise MigrationError("the store holds undone check-outs (check_out_undone), which "
                             "programs before schema version 7 cannot read")
    _rewrite_events_checks(conn, [(schema.KINDS_V7, schema.KINDS_V1),
                                  (schema.TARGETED_V7, schema.TARGETED_V1)])


@dataclass(frozen=True, slots=True)
class Migration:
    """One schema step. `breaking`: an older program writing after it would corrupt the store
    (so older programs are refused); `refresh`: re-derive what it adds after older writers."""

    version: int
    name: str
    statements: Sequence[str]
    after: Callable[[sqlite3.Connection], None] | None = field(default=None)
    breaking: bool = False
    down: Sequence[str] = ()
    refresh: Callable[[sqlite3.Connection], None] | None = None
    undo: Callable[[sqlite3.Connection], None] | None = None  # a way back that needs Python


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "events, outbox and their rules", schema.V1, breaking=True),
    # A schema-1 writer would leave the projection behind its events.
    Migration(2, "projection tables and purge log", schema.V2, _rebuild_projection,
              breaking=True, down=schema.DOWN[2]),
    Migration(3, "device status for the heartbeat", schema.V3, down=schema.DOWN[3]),
    Migration(4, "failed clerk sign-ins (login throttle)", schema.V4, down=schema.DOWN[4]),
    # Expand-only: a new table no trigger or derived table depends on; an older writer never
    # touches it (docs/registry.md, "Schema compatibility").
    Migration(5, "clerk accounts (staff number, hashed PIN, owner)", schema.V5,
              down=schema.DOWN[5]),
    Migration(6, "compatible series: oldest writer recorded", schema.V6, down=schema.DOWN[6]),
    # Expand-only: a looser CHECK; an older writer never writes the new kind. It cannot read
    # one either, so the way back is refused once a check-out was undone (docs/registry.md).
    Migration(7, "events: check_out_undone kind", [], _widen_kinds, undo=_narrow_kinds),
)
LATEST = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def require_current(conn: sqlite3.Connection, path: Path | str) -> None:
    """Refuse an older schema (migrate first) and a newer one outside the compatible series."""
    version = schema_version(conn)
    if version > LATEST:
        compat.require_writable(conn, path, version, LATEST)
    if version < LATEST:
        raise SchemaOutdatedError(
            f"{path}: schema version {version}, this program needs {LATEST}: "
            "run `anju store migrate`"
        )


def migrate(conn: sqlite3.Connection, *, target: int = LATEST) -> list[int]:
    """Apply every pending migration up to `target` in one transaction; returns versions applied."""
    current = schema_version(conn)
    if current > LATEST:
        compat.require_writable(conn, "the database", current, LATEST)
        return []  # a newer schema of the compatible series: nothing to do, never downgrade
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
        version = int(pending[-1].version)
        if compat.has_record(conn):
            compat.record(conn, min_writer_version=compat.min_writer(MIGRATIONS, version),
                          writer=LATEST)
        conn.execute(f"PRAGMA user_version = {version}")
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


def downgrade(conn: sqlite3.Connection, target: int) -> list[int]:
    """Undo every migration above `target` in one transaction (the way back for an older
    program); events and outbox rows are kept. Returns the versions undone."""
    current = schema_version(conn)
    if current > LATEST:
        raise SchemaTooNewError(f"schema version {current} is newer than this program's "
                                f"{LATEST}: downgrade with the program that migrated it")
    undo = [m for m in reversed(MIGRATIONS) if target < m.version <= current]
    if target < 1 or any(not m.down and m.undo is None for m in undo):
        raise MigrationError(f"no way back from schema version {current} to {target}")
    if not undo:
        return []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for migration in undo:
            for statement in migration.down:
                conn.execute(statement)
            if migration.undo is not None:
                migration.undo(conn)
            conn.execute("DELETE FROM schema_migrations WHERE version = ?", (migration.version,))
        if compat.has_record(conn):
            compat.record(conn, min_writer_version=compat.min_writer(MIGRATIONS, target),
                          writer=target)
        conn.execute(f"PRAGMA user_version = {int(target)}")
        conn.execute("COMMIT")
    except Exception as err:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise MigrationError(f"downgrade to {target} failed and was rolled back: {err}") from err
    log.info("schema downgraded from %d to %d", current, target)
    return [m.version for m in undo]


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
