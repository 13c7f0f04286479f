"""A real `anju stays check-in` with the whole process at 1970 (libfaketime), as a Pi without a
battery clock boots: the adult registers, the minor registers once the clerk confirms the
date checks, and the events say how they were checked (docs/time.md)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from drivers.idcard.cards import decode_text_block, encode_text_block, synthetic_photo
from drivers.idcard.reading import Sex
from terminal.system.clock import BUILD_DATE, IMPLAUSIBLE
from tests.faketime import faketime
from tests.terminal.registry_helpers import id_number
from tests.web.desk import write_settings

pytestmark = pytest.mark.skipif(
    shutil.which("faketime") is None,
    reason="faketime not installed (deploy/ensure-debian-packages.sh)",
)
ANJU = [sys.executable, "-m", "terminal.cli"]


def at_1970(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*faketime("1970-01-01 00:00:05"), *ANJU, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
    )


def card_file(path: Path, name: str, birth: date, sex: str, number: str) -> str:
    """A card reading as `anju card read --json --unmasked` prints it (a real text block)."""
    fields = {
        "card_type": "resident",
        "name": name,
        "sex": sex,
        "nation_code": "01",
        "birth_date": f"{birth:%Y%m%d}",
        "address": "广东省广州市天河区测试路8号",
        "id_number": number,
        "authority": "测试市公安局天河分局",
        "valid_from": "20200601",
        "valid_until": "20400601",
    }
    reading = decode_text_block(encode_text_block(fields), synthetic_photo(number))
    path.write_text(json.dumps(reading.to_json(), ensure_ascii=False), "utf-8")
    return str(path)


def events(db: Path) -> list[dict]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT payload FROM events ORDER BY seq_id").fetchall()
        return [json.loads(payload) for (payload,) in rows]
    finally:
        conn.close()


def test_check_in_at_1970_registers_an_adult_and_a_confirmed_minor(tmp_path: Path) -> None:
    config = str(write_settings(tmp_path))
    assert at_1970("store", "init", "--config", config).returncode == 0
    born = date(1988, 8, 8)
    adult = card_file(tmp_path / "adult.json", "王五", born, "1", id_number(born, Sex.MALE, 41))
    saved = at_1970("stays", "check-in", "--config", config, "--room", "101", "--card", adult)
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.startswith("saved ")

    ten = BUILD_DATE.replace(year=BUILD_DATE.year - 10)
    minor = card_file(tmp_path / "minor.json", "王小六", ten, "2", id_number(ten, Sex.FEMALE, 42))
    refused = at_1970("stays", "check-in", "--config", config, "--room", "102", "--card", minor)
    assert refused.returncode == 1
    assert "minor.unaccompanied" in refused.stdout
    assert "confirm with --confirm-dates" in refused.stdout
    confirmed = at_1970(
        "stays", "check-in", "--config", config, "--room", "102", "--card", minor, "--confirm-dates"
    )
    assert confirmed.returncode == 0, confirmed.stderr + confirmed.stdout

    first, second = events(tmp_path / "terminal.db")
    for event in (first, second):
        # Honest, as read: the fake clock starts at 00:00:05 and runs (a loaded machine took
        # 14 s to get there once), so the first minutes of 1970, not a fixed second.
        assert event["wall_time"].startswith("1970-01-01T00:0")
        assert event["clock_synchronised"] is False
        assert event["data"]["date_checks"]["clock"] == IMPLAUSIBLE
        assert event["data"]["date_checks"]["checked_against"] == BUILD_DATE.isoformat()
    assert first["data"]["date_checks"]["downgraded"] == []
    assert second["data"]["date_checks"]["confirmed_by_clerk"] is True
    (finding,) = [f for f in second["data"]["findings"] if f["code"] == "minor.unaccompanied"]
    assert (finding["severity"], finding["downgraded_from"]) == ("warn", "block")
