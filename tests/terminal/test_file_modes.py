"""Issue 14, finding 10: files holding personal data or secrets are created 0600 whatever the
umask (the store with its side files and migration backups, the central SQLite database, the
device credential), and `anju terminal run`, `anju sync run` and `anju central serve` warn at
start about any such file other users can open (sync/files.py, terminal/doctor/file_checks.py)."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from central.db.engine import database_exposures, make_engine
from central.migrate import migrate
from sync.atomic_file import write_json_atomic
from sync.files import create_private, exposure
from terminal.config import load_config
from terminal.doctor.file_checks import exposed_files
from terminal.store import migrations
from terminal.store.database import Store
from tests import anju
from tests.central.serverproc import CentralServer
from tests.forkserver import Forked

PIN = "864209"


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The umask of an interactive shell (files 0644): what the technician's commands get."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(folder: Path) -> dict[str, int]:
    return {p.name: mode(p) for p in sorted(folder.iterdir()) if p.is_file()}


def settings(work: Path, *, pin: str = PIN) -> Path:
    config = work / "terminal.toml"
    config.write_text(
        '[device]\ndevice_id = "mode-test-0001"\nsite_code = "4401060001"\n\n'
        f'[store]\ndatabase = "{work / "terminal.db"}"\nmin_free_bytes = 0\n\n'
        f'[sync]\ncredential_file = "{work / "credential.json"}"\n'
        f'state_file = "{work / "sync-state.json"}"\n\n'
        f'[web]\nclerk_pin = "{pin}"\n',
        "utf-8",
    )
    return config


def test_the_umask_would_open_a_plain_file(tmp_path: Path, umask_022: None) -> None:
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert mode(plain) == 0o644  # what every file below would get without care
    assert create_private(tmp_path / "private") and mode(tmp_path / "private") == 0o600
    assert not create_private(tmp_path / "private")  # an existing file is left alone
    assert not create_private(plain) and mode(plain) == 0o644


def test_a_new_store_its_side_files_and_a_migration_backup_are_private(
    tmp_path: Path, umask_022: None
) -> None:
    path = tmp_path / "var" / "terminal.db"
    store = Store.open(path, create=True)
    try:
        with closing(sqlite3.connect(path)) as conn:
            backup = migrations.backup(conn, path)
        files = modes(path.parent)
        assert {"terminal.db", "terminal.db-wal", "terminal.db-shm", backup.name} <= set(files)
        assert set(files.values()) == {0o600}, files
    finally:
        store.close()


def test_the_central_sqlite_database_is_private(tmp_path: Path, umask_022: None) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'central' / 'central.db'}")
    try:
        migrate(engine)
        with engine.connect() as conn:  # an open connection: the side files exist
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").fetchall()
            files = modes(tmp_path / "central")
        assert {"central.db", "central.db-wal", "central.db-shm"} <= set(files)
        assert set(files.values()) == {0o600}, files
        assert database_exposures(f"sqlite:///{tmp_path / 'central' / 'central.db'}") == []
    finally:
        engine.dispose()
    assert database_exposures("postgresql+psycopg://x@127.0.0.1/test") == []


def test_the_credential_is_private_even_over_an_open_one(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "credential.json"
    path.write_text("{}")
    assert mode(path) == 0o644
    credential = {"device_id": "d", "site_code": "4401060001", "secret": "s"}
    write_json_atomic(path, credential, mode=0o600)
    assert mode(path) == 0o600 and modes(tmp_path) == {"credential.json": 0o600}


def test_exposed_files_names_each_file_others_can_open(tmp_path: Path) -> None:
    config_path = settings(tmp_path)
    Store.open(tmp_path / "terminal.db", create=True).close()
    write_json_atomic(tmp_path / "credential.json", {"secret": "s"}, mode=0o600)
    config = load_config(config_path)
    database = tmp_path / "terminal.db"
    config_path.chmod(0o640)  # group-readable (the service's group) is fine
    assert exposed_files(config, database) == []
    for path in (config_path, tmp_path / "credential.json", database):
        path.chmod(0o644)
    backup = tmp_path / "terminal.db.v3.bak"
    backup.write_bytes(b"")
    backup.chmod(0o604)
    found = {(e.what, e.path.name, e.mode) for e in exposed_files(config, database)}
    assert found == {
        ("settings file (it holds the clerk PIN)", "terminal.toml", 0o644),
        ("device credential", "credential.json", 0o644),
        ("store", "terminal.db", 0o644),
        ("store backup", "terminal.db.v3.bak", 0o604),
    }
    without_pin = load_config(settings(tmp_path, pin=""))
    assert "terminal.toml" not in {e.path.name for e in exposed_files(without_pin, database)}
    item = exposure("store", database)
    assert item is not None and item.message() == (
        f"store {database} is open to other users (mode 0644): run chmod 600 {database}"
    )


def stop(process: subprocess.Popen[bytes] | Forked) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(log: Path, text: str, process: subprocess.Popen[bytes] | Forked) -> str:
    deadline = time.monotonic() + 30
    while text not in (content := log.read_text("utf-8", errors="replace")):
        assert process.poll() is None or time.monotonic() < deadline, content
        assert time.monotonic() < deadline, content
        time.sleep(0.05)
    return content


def test_terminal_run_and_sync_run_warn_about_open_files_at_start(tmp_path: Path) -> None:
    config = settings(tmp_path)
    config.chmod(0o644)
    Store.open(tmp_path / "terminal.db", create=True).close()
    (tmp_path / "terminal.db").chmod(0o644)
    write_json_atomic(tmp_path / "credential.json", {"secret": "s"}, mode=0o644)

    log = tmp_path / "terminal.log"
    terminal = anju.start(["terminal", "run", "--config", str(config), "--simulate", "--port",
                           "0"], log)
    try:
        content = wait_for(log, "front desk page:", terminal)
    finally:
        stop(terminal)
    for what, path in (
        ("settings file (it holds the clerk PIN)", config),
        ("device credential", tmp_path / "credential.json"),
        ("store", tmp_path / "terminal.db"),
    ):
        assert (
            f"WARNING terminal.doctor.file_checks: {what} {path} is open to other users "
            f"(mode 0644): run chmod 600 {path}"
        ) in content
    assert PIN not in content

    sync = anju.run("sync", "run", "--config", str(config))
    assert sync.returncode == 2  # not provisioned (no server URL): after the warnings
    assert f"store {tmp_path / 'terminal.db'} is open to other users" in sync.stderr
    assert f"device credential {tmp_path / 'credential.json'} is open" in sync.stderr
    assert "settings file (it holds the clerk PIN)" in sync.stderr and PIN not in sync.stderr

    for path in (config, tmp_path / "terminal.db", tmp_path / "credential.json"):
        path.chmod(0o600)
    quiet = anju.run("sync", "run", "--config", str(config))
    assert quiet.returncode == 2 and "open to other users" not in quiet.stderr


def test_central_serve_creates_its_database_private_and_warns_about_an_open_one(
    tmp_path: Path, umask_022: None
) -> None:
    fresh = tmp_path / "fresh" / "central.db"
    with CentralServer(f"sqlite:///{fresh}", tmp_path / "fresh.log"):
        assert mode(fresh) == 0o600
    assert "open to other users" not in (tmp_path / "fresh.log").read_text("utf-8")

    opened = tmp_path / "central.db"
    opened.touch()
    opened.chmod(0o644)
    with CentralServer(f"sqlite:///{opened}", tmp_path / "opened.log"):
        pass
    assert (
        f"central database {opened} is open to other users (mode 0644): run chmod 600 {opened}"
    ) in (tmp_path / "opened.log").read_text("utf-8")
