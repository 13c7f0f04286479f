"""Central commands say which database they use and never create the default SQLite file
behind the user's back (the README's `user add` once made a second, empty database)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from terminal.cli import cli


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ANJU_CENTRAL_DB", raising=False)
    return tmp_path


def test_the_default_database_is_not_created_silently(elsewhere: Path) -> None:
    result = CliRunner().invoke(cli, ["central", "user", "add", "li.wei", "--role", "officer"])
    assert result.exit_code == 1
    default = elsewhere / "var" / "central.db"
    assert f"no central database at {default}" in result.stderr
    assert "--db" in result.stderr and "ANJU_CENTRAL_DB" in result.stderr
    assert not default.exists()
    listed = CliRunner().invoke(cli, ["central", "audit", "list"])
    assert listed.exit_code == 1 and not default.exists()


def test_an_explicit_url_or_migrate_creates_it_and_says_where(elsewhere: Path) -> None:
    path = elsewhere / "mine.db"
    added = CliRunner().invoke(
        cli, ["central", "user", "add", "li.wei", "--role", "officer", "--db", f"sqlite:///{path}"]
    )
    assert added.exit_code == 0, added.output
    assert f"database: sqlite:///{path}" in added.stderr
    assert f"creating a new SQLite database at {path}" in added.stderr
    assert added.stdout.startswith("password for li.wei (shown once): ")
    again = CliRunner().invoke(
        cli, ["central", "audit", "list"], env={"ANJU_CENTRAL_DB": f"sqlite:///{path}"}
    )
    assert again.exit_code == 0 and "creating" not in again.stderr
    assert "user_add" in again.stdout  # the same database: the user's creation is listed
    migrated = CliRunner().invoke(cli, ["central", "migrate"])
    assert migrated.exit_code == 0
    assert "creating a new SQLite database" in migrated.stderr
    assert (elsewhere / "var" / "central.db").exists()
