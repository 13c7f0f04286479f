"""`anju demo` (what `make demo` runs) reads simulated cards and saves each one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from terminal.store.database import Store
from terminal.store.verify import verify


def test_demo_reads_cards_and_saves_each_to_a_verifying_store(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "terminal.cli", "demo", "--dir", str(tmp_path), "--seconds", "6",
         "--present", "0.4"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    saved_lines = [line for line in result.stdout.splitlines() if line.strip().startswith("saved")]
    assert len(saved_lines) >= 3
    assert "store verify: ok" in result.stdout
    assert "4401**********0016" in result.stdout and "440106196003150016" not in result.stdout
    with Store.open(tmp_path / "terminal.db") as store, store.reader() as conn:
        assert verify(conn) == []
        stays = conn.execute("SELECT count(DISTINCT stay_id) FROM events").fetchone()[0]
    assert stays == len(saved_lines)
