"""What the migration tests share: a fresh database of each backend, taken to a revision and
moved between revisions with Alembic on the test's own engine."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from sqlalchemy import Engine

from central.db.engine import make_engine
from central.migrate import alembic_config
from tests.pgschema import pg_schema_url


def move_to(engine: Engine, revision: str, *, down: bool = False) -> None:
    """Upgrade (or, `down`, downgrade) `engine`'s database to `revision`."""
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)


@contextmanager
def engine_at(backend: str, tmp_path: Path, prefix: str, revision: str | None = None
              ) -> Iterator[Engine]:
    """An engine (unpooled) on a fresh database of `backend` ("sqlite": a file in `tmp_path`;
    "postgresql": a schema named after `prefix`, skipped when PostgreSQL is not there, dropped
    afterwards), at `revision` (None: empty)."""
    urls = (iter([f"sqlite:///{tmp_path / 'central.db'}"]) if backend == "sqlite"
            else pg_schema_url(prefix))
    engine = make_engine(next(urls), pooled=False)
    try:
        if revision is not None:
            move_to(engine, revision)
        yield engine
    finally:
        engine.dispose()
        next(urls, None)  # drops the PostgreSQL schema
