"""`anju card read|info` as a technician runs them: a real process (forked ready imported:
tests/anju.py) against the simulator on a pty. Every card of the card file also goes through
the same `card read` command, run in this process by click's runner (still through pyserial
and the pty): only the process start, a second of CPU each, is left out."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from drivers.sim.cardfile import default_card_file
from drivers.sim.idcard import SimulatedReader
from drivers.sim.sam import load_sim_cards
from terminal.commands.card import card as card_group
from tests import anju

ENTRIES = json.loads(Path(default_card_file()).read_text(encoding="utf-8"))["cards"]
SEX = {"0": "unknown", "1": "male", "2": "female", "9": "unspecified"}
KEYS = {
    "card_type", "card_version", "name", "name_en", "sex", "nation", "nationality", "birth_date",
    "address", "id_number", "id_number_valid", "authority", "valid_from", "valid_until",
    "long_term", "pass_number", "issue_count", "photo_sha256", "sam_id",
}


def _iso(value: str) -> str:
    return date(int(value[:4]), int(value[4:6]), int(value[6:])).isoformat()


def run_anju(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return anju.run(*args, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}, inherit_env=False,
                    timeout=timeout)


@pytest.mark.parametrize("index", range(len(ENTRIES)), ids=[e["label"] for e in ENTRIES])
def test_card_read_json_unmasked_prints_every_field(index: int) -> None:
    entry = ENTRIES[index]
    card = load_sim_cards()[index]
    with SimulatedReader() as sim:
        sim.place(card)
        result = CliRunner().invoke(
            card_group, ["read", "--port", sim.port, "--json", "--unmasked", "--timeout", "20"],
            env={"LANG": "C.UTF-8"},
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out.keys() >= KEYS
    assert out["card_type"] == entry["card_type"]
    assert out["card_version"] == entry.get("card_version")
    assert out["name"] == entry.get("name", "")
    assert out["name_en"] == entry.get("name_en")
    assert out["sex"] == SEX[entry["sex"]]
    assert out["birth_date"] == _iso(entry["birth_date"])
    assert out["id_number"] == entry["id_number"]
    assert out["valid_from"] == _iso(entry["valid_from"])
    if entry["valid_until"] == "长期":
        assert out["long_term"] is True and out["valid_until"] is None
    else:
        assert out["long_term"] is False and out["valid_until"] == _iso(entry["valid_until"])
    assert out["sam_id"] == "05.01-20101117-0001234567-3000000000"
    assert out["photo_sha256"] == hashlib.sha256(card.photo).hexdigest()
    if entry["card_type"] == "resident":
        assert out["nationality"] == "CHN"
        assert out["address"] == entry["address"]
        assert out["authority"] == entry["authority"]
        assert out["nation"] is not None
    elif entry["card_type"] == "hk_mo_tw_residence":
        assert out["nationality"] is None
        assert out["pass_number"] == entry["pass_number"]
        assert out["issue_count"] == int(entry["issue_count"])
    else:
        assert out["nationality"] == entry["nationality"]
        assert out["nation"] is None
    if entry["card_type"] == "foreign_permanent" and entry["card_version"] == "2017":
        assert out["id_number_valid"] is None
    else:
        assert out["id_number_valid"] is (not entry.get("expected_issues"))


def test_card_read_masks_personal_fields_by_default() -> None:
    card = load_sim_cards()[0]
    with SimulatedReader() as sim:
        sim.place(card)
        result = run_anju("card", "read", "--port", sim.port, "--json", "--timeout", "20")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["id_number"] == "4401**********0016"
    assert out["name"] == "测**"
    assert "text_block_b64" not in out and ENTRIES[0]["address"] not in result.stdout


def test_card_read_without_a_reader_exits_2(tmp_path: Path) -> None:
    result = run_anju("card", "read", "--port", str(tmp_path / "no-such-tty"), "--timeout", "1")
    assert result.returncode == 2
    assert "no reader" in result.stderr


def test_card_read_without_a_card_exits_3() -> None:
    with SimulatedReader() as sim:
        result = run_anju("card", "read", "--port", sim.port, "--timeout", "0.2")
    assert result.returncode == 3
    assert "no card within 0.2 s" in result.stderr


def test_card_info_reports_baud_and_sam_id() -> None:
    # The second rate probed: found after three silent seconds at 115200 (the shipped probe
    # timeout); every rate is probed in tests/drivers, where the silence costs no real time.
    with SimulatedReader(baud=57600) as sim:
        result = run_anju("card", "info", "--port", sim.port, "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["baud"] == 57600 and info["connected"] is True
    assert info["sam_id"] == "05.01-20101117-0001234567-3000000000"
