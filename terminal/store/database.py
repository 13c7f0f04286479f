"""Opening the store: one writer connection, fresh reader connections, checks on open.

    store = Store.open(path, identity=..., create=True)   # init + migrate a new file
    with store.reader() as conn: ...                      # a read-only connection (WAL snapshot)
    store.writer.transaction(lambda txn: ...)             # the one writer

Readers use their own connections, so the page and the sync service (another process) read a
consistent snapshot while the writer commits.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from sync.files import create_private
from terminal.config import Config, DeviceIdentity
from terminal.errors import StoreError
from terminal.store import compat, connection, migrations
from terminal.store.disk import DiskGuard
from terminal.store.writer import Writer
from terminal.system.clock import Clock, SystemClock

if TYPE_CHECKING:
    import sqlite_utils

log = logging.getLogger(__name__)


class ReadOnlyStore:
    """Reader connections only: no writer, no migration, nothing written (an SD card mounted on
    a laptop, a stopped terminal's store); what StoreOutbox and the queries read through."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        conn = connection.connect(self.path, readonly=True)
        try:
            yield conn
        finally:
            conn.close()


class Store:
    def __init__(
        self, path: Path, conn: sqlite3.Connection, *, identity: DeviceIdentity | None,
        clock: Clock, min_free_bytes: int, busy_timeout_ms: int,
    ) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._conn = conn
        self.guard = DiskGuard(path, min_free_bytes)
        self.writer = Writer(conn, identity=identity, clock=clock, guard=self.guard)

    @functools.cached_property
    def db(self) -> sqlite_utils.Database:
        """sqlite-utils over the writer's own connection, for introspection and ad-hoc reads.

        Imported on first use: the uploader process never needs it, and sqlite-utils with its
        dependencies is over 10 MB of a Pi Zero's memory.
        """
        import sqlite_utils

        return sqlite_utils.Database(self._conn, execute_plugins=False)

    @classmethod
    def open(
        cls, path: Path | str, *, identity: DeviceIdentity | None = None,
        clock: Clock | None = None, create: bool = False, migrate: bool = False,
        min_free_bytes: int = 0, busy_timeout_ms: int = 5000, quick_check: bool = True,
    ) -> Store:
        """Open (or with `create`, make) a store; refuses other schema versions unless `migrate`."""
        path = Path(path)
        if not path.exists() and not create:
            raise StoreError(f"no database at {path} (run `anju store init`)",
                             f"找不到数据库：{path}")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
            create_private(path)  # personal data: 0600 whatever the umask (and so -wal, -shm)
        conn = connection.connect(path, busy_timeout_ms=busy_timeout_ms)
        try:
            if quick_check:
                connection.quick_check(conn)
            if create or migrate:
                if migrate and 0 < migrations.schema_version(conn) < migrations.LATEST:
                    log.info("backup before migrating: %s", migrations.backup(conn, path))
                migrations.migrate(conn)
            migrations.require_current(conn, path)
            compat.on_open(conn, migrations.MIGRATIONS, migrations.schema_version(conn),
                           migrations.LATEST)
        except BaseException:
            conn.close()
            raise
        return cls(path, conn, identity=identity, clock=clock or SystemClock(),
                   min_free_bytes=min_free_bytes, busy_timeout_ms=busy_timeout_ms)

    @classmethod
    def from_config(cls, config: Config, *, path: Path | str | None = None, **kwargs: object
                    ) -> Store:
        return cls.open(
            path or config["store.database"], identity=config.identity,
            min_free_bytes=config["store.min_free_bytes"],
            busy_timeout_ms=config["store.busy_timeout_ms"],
            quick_check=config["store.quick_check_on_open"], **kwargs,  # type: ignore[arg-type]
        )

    @contextlib.contextmanager
    def reader(self) -> Iterator[sqlite3.Connection]:
        conn = connection.connect(self.path, busy_timeout_ms=self.busy_timeout_ms, readonly=True)
        try:
            yield conn
        finally:
            conn.close()

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
