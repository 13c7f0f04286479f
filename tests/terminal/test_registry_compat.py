"""Schema compatibility across releases, with real older and newer program code.

Releases are built as copies of this tree's packages (terminal, sync, drivers, wlt) in a
temporary folder, with their migrations edited, and run as `anju` subprocesses importing the
copy (checked: the copy's LATEST is the one that runs):

* previous = this release without its newest migration (what the brief calls "reverting the
  newest migration"): it registers and uploads on a database this release migrated;
* next, expand-only: this release writes into its newer database; the next one catches up
  (its `refresh` step) when it opens it again;
* next, breaking: this release refuses with the way back; the next one's `store downgrade`
  takes it there and keeps the event the next one wrote.

Uploads go to a real central server (SQLite) and are counted there.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from terminal.cli import cli
from terminal.store import compat, migrations
from tests.central.central_helpers import Admin
from tests.central.serverproc import CentralServer
from tests.sync.uploader_helpers import Terminal, central_counts, provision
from tests.terminal.registry_helpers import card_file

ROOT = Path(__file__).parents[2]
PACKAGES = ("terminal", "sync", "drivers", "wlt")
NEWEST = re.compile(r"\n    Migration\(7, [^\n]*\n")
NEXT_EXPAND = """    Migration(8, "stay count (a next release)", [
        "CREATE TABLE stay_count (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)",
        "INSERT INTO stay_count VALUES (1, (SELECT count(*) FROM stay_view))"],
        down=["DROP TABLE stay_count"],
        refresh=lambda conn: conn.execute("UPDATE stay_count SET n = "
                                          "(SELECT count(*) FROM stay_view)")),
"""
NEXT_BREAKING = """    Migration(8, "stay notes every writer must keep (a next release)", [
        "CREATE TABLE stay_notes (stay_id TEXT PRIMARY KEY, note TEXT)"],
        breaking=True, down=["DROP TABLE stay_notes"]),
"""


def release(base: Path, edit: Callable[[str], str], latest: int) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, base / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    path = base / "terminal" / "store" / "migrations.py"
    path.write_text(edit(path.read_text("utf-8")), "utf-8")
    probe = run(
        base, "-", python="import terminal.store.migrations as m; print(m.__file__, m.LATEST)"
    )
    assert probe.stdout.split() == [str(path), str(latest)], probe.stdout
    return base


def run(
    release_dir: Path, *args: str, python: str | None = None, code: int | None = 0
) -> subprocess.CompletedProcess[str]:
    """`anju ARGS` from the release in `release_dir` (its packages shadow the installed ones)."""
    body = python or "from terminal.cli import main; main()"
    command = [
        sys.executable,
        "-c",
        f"import sys; sys.path.insert(0, {str(release_dir)!r}); " + body,
        *([] if python else args),
    ]
    env = {**os.environ, "ANJU_OPERATOR": "C01", "LANG": "C.UTF-8"}
    result = subprocess.run(
        command, capture_output=True, text=True, cwd=release_dir, env=env, timeout=120, check=False
    )
    if code is not None:
        assert result.returncode == code, result.stdout + result.stderr
    return result


def add_migration(text: str) -> Callable[[str], str]:
    return lambda source: source.replace("\n)\nLATEST = ", f"\n{text})\nLATEST = ", 1)


@pytest.fixture
def admin(sqlite_central: CentralServer) -> Iterator[Admin]:
    with Admin(sqlite_central.db_url, sqlite_central.url) as handle:
        yield handle


@pytest.fixture
def terminal(admin: Admin, tmp_path: Path) -> Iterator[Terminal]:
    term = provision(admin, tmp_path)  # this release creates and migrates the store
    term.store.close()
    yield term


def current(term: Terminal, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(
        cli,
        [*args, "--config", str(term.config_path)],
        env={"ANJU_OPERATOR": "C01", "LANG": "C.UTF-8"},
    )
    assert result.exit_code == code, result.output
    return result.output


def check_in(runner: Callable[..., object], term: Terminal, room: str, card: Path) -> None:
    runner(
        "stays", "check-in", "--room", room, "--card", str(card), "--config", str(term.config_path)
    )


@contextlib.contextmanager
def db(term: Terminal) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(term.config["store.database"])
    try:
        yield conn
    finally:
        conn.close()


def test_the_previous_release_registers_and_uploads_on_a_database_this_one_migrated(
    admin: Admin, terminal: Terminal, tmp_path: Path
) -> None:
    previous = release(
        tmp_path / "previous", lambda s: NEWEST.sub("\n", s, count=1), migrations.LATEST - 1
    )
    card = card_file(tmp_path / "card.json")
    with db(terminal) as conn:
        assert migrations.schema_version(conn) == migrations.LATEST
    run(
        previous,
        "stays",
        "check-in",
        "--room",
        "301",
        "--card",
        str(card),
        "--config",
        str(terminal.config_path),
    )
    run(previous, "sync", "now", "--quiet", "--config", str(terminal.config_path))
    run(previous, "store", "verify", "--config", str(terminal.config_path))
    assert central_counts(admin, terminal.device_id) == (1, 1)
    with db(terminal) as conn:  # the previous release left the schema as it found it
        assert migrations.schema_version(conn) == migrations.LATEST
        assert compat.read(conn) == (2, migrations.LATEST - 1)
        assert conn.execute("SELECT state FROM outbox").fetchall() == [("acknowledged",)]
    # This release opens it again, records itself as the writer, and carries on.
    current(
        terminal,
        "stays",
        "check-in",
        "--room",
        "302",
        "--card",
        str(card_file(tmp_path / "c2.json", serial=2)),
    )
    assert "2 events" in current(terminal, "store", "verify")
    with db(terminal) as conn:
        assert compat.read(conn) == (2, migrations.LATEST)


def test_this_release_writes_into_a_newer_expand_only_schema_and_the_newer_catches_up(
    admin: Admin, terminal: Terminal, tmp_path: Path
) -> None:
    nxt = release(tmp_path / "next", add_migration(NEXT_EXPAND), migrations.LATEST + 1)
    run(nxt, "store", "migrate", "--config", str(terminal.config_path))
    run(
        nxt,
        "stays",
        "check-in",
        "--room",
        "401",
        "--card",
        str(card_file(tmp_path / "a.json")),
        "--config",
        str(terminal.config_path),
    )
    # This (older) release opens the newer database, registers, verifies and uploads.
    current(
        terminal,
        "stays",
        "check-in",
        "--room",
        "402",
        "--card",
        str(card_file(tmp_path / "b.json", serial=2)),
    )
    assert "ok: 2 events" in current(terminal, "store", "verify")
    assert "compatible with it; left as it is" in current(terminal, "store", "migrate")
    current(terminal, "sync", "now", "--quiet")
    assert central_counts(admin, terminal.device_id) == (2, 2)
    with db(terminal) as conn:
        assert migrations.schema_version(conn) == migrations.LATEST + 1
        assert conn.execute("SELECT n FROM stay_count").fetchone() == (0,)  # as migrated: stale
        assert compat.read(conn) == (2, migrations.LATEST)
    run(nxt, "store", "verify", "--config", str(terminal.config_path))  # the next one refreshes
    run(nxt, "stays", "list", "--config", str(terminal.config_path))
    with db(terminal) as conn:
        assert conn.execute("SELECT n FROM stay_count").fetchone() == (2,)
        assert compat.read(conn) == (2, migrations.LATEST + 1)


def test_a_breaking_schema_is_refused_with_the_way_back_which_keeps_every_event(
    admin: Admin, terminal: Terminal, tmp_path: Path
) -> None:
    nxt = release(tmp_path / "next", add_migration(NEXT_BREAKING), migrations.LATEST + 1)
    run(nxt, "store", "migrate", "--config", str(terminal.config_path))
    run(
        nxt,
        "stays",
        "check-in",
        "--room",
        "501",
        "--card",
        str(card_file(tmp_path / "a.json")),
        "--config",
        str(terminal.config_path),
    )
    refused = current(terminal, "stays", "list", code=3)
    assert f"only be written by programs of schema version {migrations.LATEST + 1}" in refused
    assert f"anju store downgrade --to {migrations.LATEST}" in refused
    assert "schema_version" in current(terminal, "store", "verify", code=1)
    # The way back: the newer program undoes its migration; the event it wrote stays.
    out = run(
        nxt,
        "store",
        "downgrade",
        "--to",
        str(migrations.LATEST),
        "--config",
        str(terminal.config_path),
    ).stdout
    assert "every event kept" in out
    current(
        terminal,
        "stays",
        "check-in",
        "--room",
        "502",
        "--card",
        str(card_file(tmp_path / "b.json", serial=2)),
    )
    assert "ok: 2 events" in current(terminal, "store", "verify")
    current(terminal, "sync", "now", "--quiet")
    assert central_counts(admin, terminal.device_id) == (2, 2)
    with db(terminal) as conn:
        assert compat.read(conn) == (2, migrations.LATEST)
        assert migrations.schema_version(conn) == migrations.LATEST
