"""`anju demo` (what `make demo` runs): central server, provisioned terminal, page, uploader.

The demo command is forked ready imported (tests/anju.py); the parts it starts are the fresh
`anju` processes it always starts."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests

from terminal.store.database import Store
from terminal.store.verify import verify
from tests import anju
from tests.forkserver import Forked


def test_demo_runs_the_whole_system_and_delivers_what_the_clerk_confirmed(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    # It ends once two events are delivered (two parties at one card every 8 s: ~10 s after
    # the start); --seconds only bounds a failing run, which then exits 1.
    result = anju.run("demo", "--dir", str(work), "--until-delivered", "2", "--seconds", "90",
                      "--web-port", "0", "--central-port", "0", "--auto-clerk", timeout=240)
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


class Demo:
    """`anju demo` running, its stdout and stderr in files of their own (outside its --dir)."""

    def __init__(self, tmp_path: Path) -> None:
        self.work = tmp_path / "demo"
        self.out, self.err = tmp_path / "demo.out", tmp_path / "demo.err"
        self.process: subprocess.Popen[bytes] | Forked = anju.start(
            ["demo", "--dir", str(self.work), "--web-port", "0", "--central-port", "0"],
            self.out, err=self.err)
        self.read = 0  # how much of its stdout the test has taken

    def lines_until_ready(self) -> list[str]:
        """The demo's output up to its "Ctrl-C to stop." line, or up to its end when it failed
        to start (its stderr says why). No deadline of its own: starting may take a minute on
        a loaded machine, and the suite's timeout bounds a hang."""
        lines: list[str] = []
        while not lines or "Ctrl-C to stop." not in lines[-1]:
            line = self.readline()
            if not line:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
                continue
            lines.append(line)
        return lines

    def readline(self) -> str:
        """The next whole line it printed, or "" when there is none yet."""
        text = self.out.read_text("utf-8")[self.read:]
        line, newline, _rest = text.partition("\n")
        if not newline:
            return ""
        self.read += len(line) + 1
        return line + "\n"

    def wait_line(self) -> str:
        deadline = time.monotonic() + 60  # a bound on failure only
        while not (line := self.readline()):
            assert self.process.poll() is None and time.monotonic() < deadline, self.errors()
            time.sleep(0.05)
        return line

    def end(self, timeout: float = 60) -> tuple[str, str]:
        """Wait for its end: the rest of its stdout, and its stderr."""
        self.process.wait(timeout)
        rest = self.out.read_text("utf-8")[self.read:]
        self.read += len(rest)
        return rest, self.errors()

    def errors(self) -> str:
        return self.err.read_text("utf-8")

    def close(self) -> None:
        """However the test ends: nothing of it left running."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_demo_stops_every_part_on_ctrl_c(tmp_path: Path) -> None:
    import signal

    demo = Demo(tmp_path)
    work = demo.work
    try:
        lines = demo.lines_until_ready()
        if not any("front-desk page" in line for line in lines):
            demo.close()
            pytest.fail(f"demo did not start: {lines} {demo.errors()[-2000:]}")
        demo.process.send_signal(signal.SIGINT)
        out, err = demo.end()
    finally:
        demo.close()
    assert demo.process.returncode == 0, err
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

    demo = Demo(tmp_path)
    work = demo.work
    try:
        text = "".join(demo.lines_until_ready())
        db_url = f"sqlite:///{work / 'central.db'}"
        assert f"central database  {db_url}" in text, text
        add = f"anju central user add li.wei --role officer --db {db_url}"
        assert add in text and f"ANJU_CENTRAL_DB={db_url} anju central audit list" in text
        added = anju.run(*add.split()[1:], cwd=tmp_path)
        assert added.stdout.startswith("password for li.wei (shown once): "), added.stderr
        pid = int(re.search(r"kill (\d+)", text).group(1))  # type: ignore[union-attr]
        os.kill(pid, signal.SIGTERM)
        stopped = demo.wait_line()
        assert "central server stopped" in stopped, stopped
        assert "anju central serve --db " in demo.wait_line()
        # The demo has seen the server go and carries on; so does the terminal: its page
        # answers (and a terminal or uploader that died would fail the exit code below).
        page = re.search(r"front-desk page\s+(http://\S+)/", text).group(1)  # type: ignore[union-attr]
        assert requests.get(page + "/healthz", timeout=10).status_code == 200
        assert demo.process.poll() is None
        demo.process.send_signal(signal.SIGINT)
        out, err = demo.end()
    finally:
        demo.close()
    assert demo.process.returncode == 0, err
    assert "stopped: " in out
    assert not (tmp_path / "var").exists()  # no stray database beside the demo's
