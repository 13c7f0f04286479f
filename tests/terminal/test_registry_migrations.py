"""Migrations on a real schema-v1 file from the field, all-or-nothing, and their way back."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from terminal.desk.registry import Registry
from terminal.errors import MigrationError, SchemaOutdatedError, SchemaTooNewError
from terminal.store import migrations, queries, verify
from terminal.store.database import Store
from tests.terminal.registry_helpers import IDENTITY, card_guest, open_store

FIXTURE = Path(__file__).with_name("fixtures") / "registry_v1.db"
STAY_102 = "01950000-0000-7000-8000-000000000102"


@pytest.fixture
def v1(tmp_path: Path) -> Path:
    path = tmp_path / "terminal.db"
    shutil.copyfile(FIXTURE, path)
    return path


def version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


def schema_objects(path: Path) -> set[tuple[str, str]]:
    conn = sqlite3.connect(path)
    try:
        return set(conn.execute(
            "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
    finally:
        conn.close()


def test_fixture_is_version_one():
    assert version(FIXTURE) == 1


def test_opening_an_old_database_without_migrating_is_refused(v1):
    with pytest.raises(SchemaOutdatedError, match="anju store migrate"):
        Store.open(v1, identity=IDENTITY)
    assert version(v1) == 1


def test_migrating_the_v1_fixture_keeps_every_event_and_builds_the_projection(v1, tmp_path):
    with Store.open(v1, identity=IDENTITY, migrate=True) as store:
        assert (tmp_path / "terminal.db.v1.bak").exists()
        with store.reader() as conn:
            assert verify.verify(conn) == []
            [row] = queries.list_in_house(conn)
            count = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            history = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
        assert (row.stay_id, row.room, row.guests_in_house) == (STAY_102, "103", 2)
        assert count == 6 and history == [1, 2, 3, 4, 5, 6, 7]
        # The chain continues where the old program left it.
        saved = Registry(store).check_in(room="201", guests=[card_guest(serial=9)],
                                         operator="C01")
        with store.reader() as conn:
            assert conn.execute("SELECT sequence FROM events WHERE event_id = ?",
                                saved.event_ids).fetchone() == (7,)
            assert verify.verify(conn) == []
    assert version(v1) == migrations.LATEST


def test_migrated_schema_equals_a_fresh_one(v1, tmp_path):
    Store.open(v1, identity=IDENTITY, migrate=True).close()
    open_store(tmp_path / "fresh.db").close()
    assert schema_objects(v1) == schema_objects(tmp_path / "fresh.db")


def test_a_failing_migration_rolls_back_whole(v1, monkeypatch):
    def boom(conn: sqlite3.Connection) -> None:
        raise RuntimeError("disk hiccup")

    failing = migrations.Migration(2, "projection", migrations.MIGRATIONS[1].statements, boom)
    monkeypatch.setattr(migrations, "MIGRATIONS", (migrations.MIGRATIONS[0], failing))
    with pytest.raises(MigrationError, match="rolled back"):
        Store.open(v1, identity=IDENTITY, migrate=True)
    assert version(v1) == 1
    assert ("table", "stay_view") not in schema_objects(v1)
    assert schema_objects(v1) == schema_objects(FIXTURE)


def test_a_newer_database_is_refused(v1):
    conn = sqlite3.connect(v1)
    conn.execute(f"PRAGMA user_version = {migrations.LATEST + 1}")
    conn.close()
    with pytest.raises(SchemaTooNewError):
        Store.open(v1, identity=IDENTITY)
    with pytest.raises(SchemaTooNewError):
        Store.open(v1, identity=IDENTITY, migrate=True)
    assert version(v1) == migrations.LATEST + 1


def test_migrating_a_current_database_does_nothing(db_path):
    open_store(db_path).close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    try:
        assert migrations.migrate(conn) == []
    finally:
        conn.close()


def test_the_way_back_keeps_every_event_and_the_way_forward_again(v1):
    Store.open(v1, identity=IDENTITY, migrate=True).close()
    conn = sqlite3.connect(v1, isolation_level=None)
    try:
        events = conn.execute("SELECT event_id, chain_sha256 FROM events").fetchall()
        assert migrations.downgrade(conn, 3) == [7, 6, 5, 4]
        assert migrations.schema_version(conn) == 3
        assert conn.execute("SELECT event_id, chain_sha256 FROM events").fetchall() == events
        with pytest.raises(MigrationError, match="no way back from schema version 3 to 0"):
            migrations.downgrade(conn, 0)  # below the events themselves: never
        assert migrations.migrate(conn) == [4, 5, 6, 7]
        assert verify.verify(conn) == []
    finally:
        conn.close()


def test_a_newer_schema_is_opened_only_within_its_compatible_series(db_path):
    open_store(db_path).close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute(f"PRAGMA user_version = {migrations.LATEST + 1}")
    conn.close()
    open_store(db_path).close()  # expand-only: this program still writes
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("UPDATE schema_compat SET min_writer_version = ?", (migrations.LATEST + 1,))
    conn.close()
    with pytest.raises(SchemaTooNewError, match="anju store downgrade --to"):
        open_store(db_path)
