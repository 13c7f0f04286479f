"""The central database schema and the admin CLI: migrations build exactly the tables the code
uses, on both backends; a newer schema is refused; sites and tokens from the command line."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Table, UniqueConstraint, text

from central.db.engine import make_engine
from central.db.tables import MIGRATION_ONLY_INDEXES, PARTITIONED, metadata
from central.errors import StorageError
from central.migrate import current_revision, head_revision, migrate
from terminal.cli import cli
from tests.central.central_helpers import Admin


def test_migrations_build_exactly_the_declared_tables(central: Admin) -> None:
    assert current_revision(central.engine) == head_revision()
    with central.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in differences if not _expected(d)] == []


def _expected(difference: tuple[Any, ...]) -> bool:
    """Differences the declared tables cannot say: indexes made by migrations for one dialect,
    and on PostgreSQL the monthly partitions (migration 0015), whose tables and indexes
    reflect as tables of their own, and the partition key in the unique constraint."""
    kind, item = difference[0], difference[1]
    table = item if isinstance(item, Table) else getattr(item, "table", None)
    if kind == "remove_index" and item.name in MIGRATION_ONLY_INDEXES:
        return True
    if kind in ("remove_table", "remove_index") and table is not None:
        return re.fullmatch(rf"({'|'.join(PARTITIONED)})_(\d{{4}}_\d{{2}}|default)",
                            table.name) is not None
    if kind in ("add_constraint", "remove_constraint") and isinstance(item, UniqueConstraint):
        return (item.table.name, [c.name for c in item.columns if c.name != "stay_month"]) == (
            "events", ["receipt"])
    return False


def test_a_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'central.db'}"
    engine = make_engine(url, pooled=False)
    try:
        assert migrate(engine) == (None, head_revision())
        assert migrate(engine) == (head_revision(), head_revision())  # idempotent
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'f00d'"))
        with pytest.raises(StorageError) as refused:
            migrate(engine)
        assert refused.value.code == "schema_too_new"
        assert current_revision(engine) == "f00d"
    finally:
        engine.dispose()
    result = CliRunner().invoke(cli, ["central", "migrate", "--db", url])
    assert result.exit_code == 1 and "newer than this software" in result.output


def test_cli_adds_sites_and_issues_tokens_that_enrol(central: Admin) -> None:
    runner = CliRunner()
    code = "C" + uuid.uuid4().hex[:8]
    db = ["--db", central.db_url]
    added = runner.invoke(cli, ["central", "site", "add", code, "--name", "东山客栈", *db])
    assert added.exit_code == 0, added.output
    again = runner.invoke(cli, ["central", "site", "add", code, "--name", "x", *db])
    assert again.exit_code == 1 and "exists already" in again.output
    issued = runner.invoke(cli, ["central", "token", "issue", "--site", code, "--ttl", "2h"],
                           env={"ANJU_CENTRAL_DB": central.db_url})
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip()
    enrolment = central.client().enroll(token, str(uuid.uuid4()), "1")
    assert (enrolment.site_code, enrolment.site_name) == (code, "东山客栈")
    bad_ttl = runner.invoke(cli, ["central", "token", "issue", "--site", code, "--ttl", "2y",
                                  *db])
    assert bad_ttl.exit_code == 2
    unknown = runner.invoke(cli, ["central", "token", "issue", "--site", "nope", *db])
    assert unknown.exit_code == 1 and "unknown site" in unknown.output


def test_cli_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["central", "--help"])
    assert result.exit_code == 0
    for command in ("serve", "migrate", "site", "token", "devices", "faults"):
        assert command in result.output
    serve = CliRunner().invoke(cli, ["central", "serve", "--help"])
    for option in ("--db", "--host", "--port", "--max-in-flight", "--max-body"):
        assert option in serve.output
