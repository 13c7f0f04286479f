"""`anju store ...` and `anju stays ...` through click, on a real database file."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from terminal.cli import cli
from terminal.store import migrations
from tests.terminal.registry_helpers import card_file, id_number

FIXTURE = Path(__file__).with_name("fixtures") / "registry_v1.db"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "terminal.toml"
    config.write_text(
        '[device]\ndevice_id = "gz-0001"\nsite_code = "4401040001"\n'
        f'[store]\ndatabase = "{tmp_path / "t.db"}"\nmin_free_bytes = 0\n', "utf-8")
    return {"ANJU_CONFIG": str(config), "ANJU_OPERATOR": "C01", "LANG": "C.UTF-8"}


def run(env: dict[str, str], *args: str, code: int = 0):
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def stay_ids(env: dict[str, str], *extra: str) -> list[str]:
    lines = run(env, "stays", "list", "--json", *extra).stdout.splitlines()
    return [json.loads(line)["stay_id"] for line in lines]


def test_register_list_show_check_out_verify(env, tmp_path):
    run(env, "store", "init")
    card = card_file(tmp_path / "card.json", "欧阳娜娜", serial=3)
    companion = card_file(tmp_path / "c.json", "张三", serial=4)
    out = run(env, "stays", "check-in", "--room", "101", "--card", str(card),
              "--companion", str(companion)).stdout
    assert out.startswith("saved ")
    number = id_number(date(1990, 5, 17), serial=3)
    listed = run(env, "stays", "list", "--in-house").stdout
    assert "101" in listed and "欧*" in listed and number not in listed and "欧阳娜娜" not in listed
    unmasked = run(env, "stays", "list", "--in-house", "--unmasked").stdout
    assert "欧阳娜娜" in unmasked and number in unmasked
    [stay_id] = stay_ids(env, "--in-house")
    shown = json.loads(run(env, "stays", "show", stay_id, "--json").stdout)
    assert shown["room"] == "101" and len(shown["guests"]) == 2
    assert number not in json.dumps(shown, ensure_ascii=False)
    assert [d["state"] for d in shown["delivery"]] == ["queued"]
    run(env, "stays", "amend", stay_id, "--field", "room", "--old", "101", "--new", "102",
        "--reason", "换房")
    assert "checked out" in run(env, "stays", "check-out", "--room", "102").stdout
    assert stay_ids(env, "--in-house") == []
    assert "ok: 3 events" in run(env, "store", "verify").stdout
    assert "purged 0 stays" in run(env, "store", "purge").stdout


def test_blocked_check_in_exits_1_with_findings_and_override_passes(env, tmp_path):
    run(env, "store", "init")
    expired = card_file(tmp_path / "old.json", valid_until=date(2020, 1, 1))
    result = run(env, "stays", "check-in", "--room", "101", "--card", str(expired), code=1)
    assert "document.expired" in result.stdout and "error: registration blocked" in result.stderr
    assert stay_ids(env) == []
    result = run(env, "stays", "check-in", "--room", "101", "--card", str(expired),
                 "--override", "document.expired=派出所已核实")
    assert "document.expired" in result.stdout and len(stay_ids(env)) == 1


def test_check_out_single_guest_group_and_void(env, tmp_path):
    run(env, "store", "init")
    for n, room in enumerate(("101", "102", "103")):
        run(env, "stays", "check-in", "--room", room, "--card",
            str(card_file(tmp_path / f"{n}.json", serial=n + 1)))
    a, b, c = sorted(stay_ids(env, "--in-house"))
    run(env, "stays", "check-out", "--stay", a, "--stay", b)
    run(env, "stays", "void", c, "--reason", "误登记")
    assert stay_ids(env, "--in-house") == []
    run(env, "stays", "check-out", "--stay", c, code=1)
    run(env, "stays", "check-out", code=2)  # neither --room nor --stay: usage error


def test_verify_names_the_tampered_event_and_exits_1(env, tmp_path):
    run(env, "store", "init")
    run(env, "stays", "check-in", "--room", "101", "--card", str(card_file(tmp_path / "c.json")))
    conn = sqlite3.connect(tmp_path / "t.db")
    conn.execute("DROP TRIGGER events_only_purge")
    conn.execute("UPDATE events SET operator = 'X'")
    conn.commit()
    conn.close()
    result = run(env, "store", "verify", code=1)
    assert "header_mismatch" in result.stderr and "sequence 1" in result.stderr
    report = json.loads(run(env, "store", "verify", "--json", code=1).stdout)
    assert not report["ok"] and {f["code"] for f in report["faults"]} >= {"schema_trigger"}


def test_migrate_the_v1_fixture_with_db_and_no_settings_file(tmp_path):
    path = tmp_path / "old.db"
    shutil.copyfile(FIXTURE, path)
    env = {"ANJU_CONFIG": "", "LANG": "C.UTF-8"}
    run(env, "stays", "list", "--db", str(path), code=3)  # outdated schema: store error
    migrated = run(env, "store", "migrate", "--db", str(path)).stdout
    assert f"from schema version 1 to {migrations.LATEST}" in migrated
    assert "ok: 6 events" in run(env, "store", "verify", "--db", str(path)).stdout
    assert len(stay_ids(env, "--db", str(path))) == 3


def test_missing_settings_and_identity_are_config_errors(tmp_path):
    env = {"ANJU_CONFIG": str(tmp_path / "nope.toml"), "LANG": "C.UTF-8", "ANJU_OPERATOR": "C1"}
    assert "settings file not found" in run(env, "store", "init", code=2).stderr
    env["ANJU_CONFIG"] = ""
    db = str(tmp_path / "t.db")
    run(env, "store", "init", "--db", db)
    card = str(card_file(tmp_path / "c.json"))
    result = run(env, "stays", "check-in", "--db", db, "--room", "1", "--card", card, code=2)
    assert "device_id" in result.stderr


def test_messages_follow_a_chinese_locale(env):
    run(env, "store", "init")
    env = {**env, "LANG": "zh_CN.UTF-8"}
    assert "没有在住" in run(env, "stays", "check-out", "--room", "909", code=1).stderr


@pytest.mark.parametrize("command", [
    ["store"], ["store", "init"], ["store", "migrate"], ["store", "verify"], ["store", "purge"],
    ["stays"], ["stays", "list"], ["stays", "show"], ["stays", "check-in"],
    ["stays", "check-out"], ["stays", "amend"], ["stays", "void"],
])
def test_help(command):
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
