"""Engines for both backends: SQLite (the embedded default) and PostgreSQL (psycopg 3).

SQLite: WAL, synchronous=FULL (a stored event must survive a power cut), foreign keys on, a
busy timeout, and every transaction opened with BEGIN IMMEDIATE, so concurrent requests queue
for the write lock instead of failing on a stale read snapshot. PostgreSQL: a bounded pool and
bounded waits (central/db/pgbounds.py); per-device ordering comes from `SELECT ... FOR UPDATE`
on the device row (central/devices/ingest.py).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from central.db.bounds import DbBounds
from sync.files import Exposure, create_private, sqlite_exposures

SQLITE_BUSY_TIMEOUT_S = 30.0


def make_engine(url: str, *, pool_size: int = 10, pooled: bool = True,
                bounds: DbBounds | None = None) -> Engine:
    """`pooled=False` closes each connection after use (admin commands, tests). `bounds`: the
    waits on PostgreSQL (central/db/pgbounds.py), its defaults unless given."""
    parsed = make_url(url)
    pool: dict[str, Any] = {"poolclass": NullPool} if not pooled else {
        "pool_size": pool_size, "max_overflow": pool_size}
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, pool)
    return _postgres_engine(url, pool, bounds or DbBounds(), pooled)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _postgres_engine(url: str, pool: dict[str, Any], bounds: DbBounds, pooled: bool) -> Engine:
    from central.db import pgbounds

    if pooled:
        pool["pool_timeout"] = bounds.pool_timeout_s
    engine = create_engine(url, connect_args=bounds.connect_args(make_url(url)), **pool)
    pgbounds.install(engine, bounds, ping=pooled)
    return engine


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another backend or an in-memory database."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def database_exposures(url: str) -> list[Exposure]:
    """A SQLite database (and its side files) other users can open; `anju central serve` logs
    them at start (a future `anju doctor` can show them)."""
    path = sqlite_path(url)
    return [] if path is None else sqlite_exposures("central database", path)


def _sqlite_engine(url: str, database: str | None, pool: dict[str, Any]) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Personal data and device secrets: 0600 whatever the umask; SQLite gives -wal and
        # -shm the database's mode.
        create_private(Path(database))
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S,
                                              "check_same_thread": False}, **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy's BEGIN below, not pysqlite's
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA synchronous=FULL")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
