"""Alembic migrations run from code: at server start and by `anju central migrate`.

The scripts are in central/db/migrations; this module sits above db/ because an upgrade past
some revisions runs application code on the data too (the stays' state folded again, the feed
started with snapshots), and db/ imports nothing of stays/ or feed/.

All-or-nothing (each upgrade runs in one transaction, DDL included, on both backends) and
refusing a database written by a newer Anju (a revision this code does not know). On
PostgreSQL each run also makes the coming months' partitions (central/db/partitions.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine

from central.db import partitions
from central.errors import StorageError

log = logging.getLogger(__name__)
SCRIPT_LOCATION = Path(__file__).parent / "db" / "migrations"
OWNERSHIP_REVISION = "0008"  # stay_owners: stays folded before it may hold foreign events
FEED_REVISION = "0011"  # feed_log: stays held before it start the feed as snapshots


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Upgrade to the newest schema; returns (revision before, revision after)."""
    config = alembic_config()
    script = ScriptDirectory.from_config(config)
    before = current_revision(engine)
    if before is not None and not _known(script, before):
        raise StorageError(f"database schema revision {before} is newer than this software: "
                           "refusing to touch it (upgrade Anju instead)", code="schema_too_new")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
        if before is not None and before < OWNERSHIP_REVISION:
            _refold_contested(conn)
        if before is not None and before < FEED_REVISION:
            _feed_snapshots(conn)
        partitions.ensure(conn, datetime.now(UTC))  # this month's and the next ones' (0014)
    return before, head_revision()


def _refold_contested(conn: Connection) -> None:
    """Fold again, from their owners' events only, the stays that other devices' events reached
    before ownership was enforced (0008): application code, so here rather than in the script."""
    from central.clock import utc_now
    from central.stays import ownership, state
    from sync.fields import format_utc

    contested = ownership.contested_stays(conn)
    if contested:
        state.refold(conn, contested, format_utc(utc_now()))
        log.warning("%d stays folded again without events of devices that do not own them",
                    len(contested))


def _feed_snapshots(conn: Connection) -> None:
    """The stays held before the feed existed start it, one snapshot record each."""
    from central.clock import utc_now
    from central.feed import log as feed_log
    from sync.fields import format_utc

    count = feed_log.backfill(conn, format_utc(utc_now()))
    if count:
        log.info("change feed started with %d snapshot records", count)


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False
