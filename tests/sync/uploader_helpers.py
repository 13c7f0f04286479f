"""Helpers for uploader tests: a provisioned terminal (config, credential, store) against a real
central server subprocess, stays registered through the Registry, and central-side counts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import func, select

from central.db import tables
from terminal.cli import cli
from terminal.config import Config, load_config
from terminal.desk.registry import Registry
from terminal.store.database import Store
from tests import pgschema
from tests.central.central_helpers import Admin
from tests.terminal.registry_helpers import card_guest

PG_URL = pgschema.PG_URL


def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL schema of its own (dropped at the end), or skip when PG is unreachable."""
    yield from pgschema.pg_schema_url("anju_upl")


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


def provision(admin: Admin, tmp_path: Path, server_url: str | None = None, *,
              site: str | None = None) -> Terminal:
    """`anju provision` in-process (for a new site unless `site`), then the store opened."""
    config_path = tmp_path / "terminal.toml"
    tmp_path.mkdir(parents=True, exist_ok=True)
    config_path.write_text(
        f'[store]\ndatabase = "{tmp_path / "terminal.db"}"\n'
        f'[sync]\ncredential_file = "{tmp_path / "credential.json"}"\n'
        f'state_file = "{tmp_path / "sync-state.json"}"\nbackoff_cap_s = 2\n', "utf-8")
    token = admin.token(site or admin.site())
    result = CliRunner().invoke(cli, ["provision", "--server", server_url or admin.url,
                                      "--token", token, "--config", str(config_path),
                                      "--no-reader"])
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
