"""Helpers for uploader tests: a provisioned terminal (config, credential, store) against a real
central server subprocess, stays registered through the Registry, and central-side counts."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from central.db import tables
from terminal.cli import cli
from terminal.config import Config, load_config
from terminal.registry import Registry
from terminal.store.database import Store
from tests.central.central_helpers import Admin
from tests.terminal.registry_helpers import card_guest

PG_URL = os.environ.get("ANJU_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL schema of its own (dropped at the end), or skip when PG is unreachable."""
    import psycopg

    url = make_url(PG_URL)
    conninfo = {"host": url.host, "port": url.port or 5432, "user": url.username,
                "dbname": url.database, "connect_timeout": 3}
    try:
        conn = psycopg.connect(autocommit=True, **conninfo)
    except psycopg.OperationalError as err:
        pytest.skip(f"PostgreSQL not reachable: {err}")
    schema = f"anju_upl_{os.getpid()}_{secrets.token_hex(3)}"
    with conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(autocommit=True, **conninfo) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@dataclass
class Terminal:
    config: Config
    config_path: Path
    store: Store

    @property
    def device_id(self) -> str:
        return self.config.require_identity().device_id

    def outbox_states(self) -> dict[str, int]:
        with self.store.reader() as conn:
            return dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state"))

    def receipts(self) -> dict[str, str | None]:
        with self.store.reader() as conn:
            return dict(conn.execute("SELECT event_id, receipt FROM outbox"))


def provision(admin: Admin, tmp_path: Path, server_url: str | None = None) -> Terminal:
    """`anju provision` in-process, then the store opened with the identity it wrote."""
    config_path = tmp_path / "terminal.toml"
    config_path.write_text(
        f'[store]\ndatabase = "{tmp_path / "terminal.db"}"\n'
        f'[sync]\ncredential_file = "{tmp_path / "credential.json"}"\n'
        f'state_file = "{tmp_path / "sync-state.json"}"\nbackoff_cap_s = 2\n', "utf-8")
    token = admin.token(admin.site())
    result = CliRunner().invoke(cli, ["provision", "--server", server_url or admin.url,
                                      "--token", token, "--config", str(config_path)])
    assert result.exit_code == 0, result.output
    config = load_config(config_path)
    return Terminal(config, config_path, Store.from_config(config, create=True))


def register(terminal: Terminal, stays: int, *, check_out_every: int = 3) -> list[str]:
    """Check in `stays` one-guest stays (1 KB photo each), check out every n-th."""
    registry = Registry(terminal.store)
    ids = []
    for i in range(stays):
        saved = registry.check_in(room=f"{100 + i}", operator="op1",
                                  guests=[card_guest(serial=i % 90 + 1, name="测试")])
        ids.append(saved.stay_id)
        if check_out_every and i % check_out_every == 0:
            registry.check_out(saved.stay_id, operator="op1")
    return ids


def central_counts(admin: Admin, device_id: str) -> tuple[int, int]:
    """(rows, distinct event ids) stored centrally for one device."""
    t = tables.events
    with admin.engine.connect() as conn:
        rows, distinct = conn.execute(select(func.count(), func.count(t.c.event_id.distinct()))
                                      .where(t.c.device_id == device_id)).one()
    return rows, distinct
