"""`anju demo` (what `make demo` runs): central server, provisioned terminal, page, uploader."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from terminal.store.database import Store
from terminal.store.verify import verify


def test_demo_runs_the_whole_system_and_delivers_what_the_clerk_confirmed(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    # It ends once two events are delivered (two parties at one card every 8 s: ~10 s after
    # the start); --seconds only bounds a failing run, which then exits 1.
    result = subprocess.run(
        [sys.executable, "-m", "terminal.cli", "demo", "--dir", str(work), "--until-delivered",
         "2", "--seconds", "90", "--web-port", "0", "--central-port", "0", "--auto-clerk"],
        capture_output=True, text=True, timeout=240, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "front-desk page   http://127.0.0.1:" in result.stdout
    assert "central server    http://127.0.0.1:" in result.stdout
    assert "stopped: " in result.stdout
    with Store.open(work / "terminal.db") as store, store.reader() as conn:
        assert verify(conn) == []
        stays = conn.execute("SELECT count(*) FROM stay_view").fetchone()[0]
        acknowledged = conn.execute(
            "SELECT count(*) FROM outbox WHERE state = 'acknowledged'").fetchone()[0]
    assert stays >= 2
    assert acknowledged >= 2  # the uploader delivered while the demo ran
    with sqlite3.connect(work / "central.db") as central:
        stored = central.execute("SELECT count(*) FROM events").fetchone()[0]
    central.close()
    assert stored >= acknowledged  # (an answer lost at shutdown is re-sent next time)
    for log in work.glob("*.log"):  # masked everywhere: no full ID number in any log
        assert "440106196003150016" not in log.read_text("utf-8", errors="replace")
    assert "Traceback" not in result.stderr


def lines_until_ready(process: subprocess.Popen[str]) -> list[str]:
    """The demo's output up to its "Ctrl-C to stop." line, or up to its end when it failed to
    start (its stderr says why). No deadline of its own: starting may take a minute on a
    loaded machine, and the suite's timeout bounds a hang."""
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if "Ctrl-C to stop." in line:
            break
    return lines


def test_demo_stops_every_part_on_ctrl_c(tmp_path: Path) -> None:
    import signal

    work = tmp_path / "demo"
    command = [sys.executable, "-m", "terminal.cli", "demo", "--dir", str(work), "--web-port",
               "0", "--central-port", "0"]
    # The context manager reaps the process and closes its pipes however the test ends.
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        try:
            lines = lines_until_ready(process)
            if not any("front-desk page" in line for line in lines):
                process.kill()
                pytest.fail(f"demo did not start: {lines} {process.communicate()[1][-2000:]}")
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    assert "stopped: " in out
    for name in ("central.log", "terminal.log", "sync.log"):
        assert "Traceback" not in (work / name).read_text("utf-8", errors="replace"), name
    children = subprocess.run(["pgrep", "-f", str(work)], capture_output=True, text=True,
                              check=False)
    assert children.stdout.strip() == ""  # nothing of the demo left running


def test_demo_names_its_database_and_survives_its_central_server_stopping(
        tmp_path: Path) -> None:
    """The output leads an officer to a login on the demo's own database, and stopping the
    central server (to watch offline work) leaves the terminal running."""
    import os
    import re
    import signal

    work = tmp_path / "demo"
    command = [sys.executable, "-m", "terminal.cli", "demo", "--dir", str(work), "--web-port",
               "0", "--central-port", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        try:
            assert process.stdout is not None
            text = "".join(lines_until_ready(process))
            db_url = f"sqlite:///{work / 'central.db'}"
            assert f"central database  {db_url}" in text, text
            add = f"anju central user add li.wei --role officer --db {db_url}"
            assert add in text and f"ANJU_CENTRAL_DB={db_url} anju central audit list" in text
            added = subprocess.run([sys.executable, "-m", "terminal.cli", *add.split()[1:]],
                                   capture_output=True, text=True, timeout=60, check=False,
                                   cwd=tmp_path)
            assert added.stdout.startswith("password for li.wei (shown once): "), added.stderr
            pid = int(re.search(r"kill (\d+)", text).group(1))  # type: ignore[union-attr]
            os.kill(pid, signal.SIGTERM)
            stopped = process.stdout.readline()
            assert "central server stopped" in stopped, stopped
            assert "anju central serve --db " in process.stdout.readline()
            # The demo has seen the server go and carries on; so does the terminal: its page
            # answers (and a terminal or uploader that died would fail the exit code below).
            page = re.search(r"front-desk page\s+(http://\S+)/", text).group(1)  # type: ignore[union-attr]
            assert requests.get(page + "/healthz", timeout=10).status_code == 200
            assert process.poll() is None
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    assert "stopped: " in out
    assert not (tmp_path / "var").exists()  # no stray database beside the demo's
