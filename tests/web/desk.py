"""A real `anju terminal run --simulate` (and `anju sync run`) in subprocesses, for browser tests.

Subprocesses keep the service's threads, ptys and sockets out of the test process (the suite
fails tests that leak them). The simulated reader is driven through the service's /sim/* hooks.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from tests.central.serverproc import free_port
from tests.forkserver import Forked, ForkServer

ROOT = Path(__file__).resolve().parents[2]
ANJU = [sys.executable, "-c", "from terminal.cli import main; main()"]

# Set while a test of tests/web runs (tests/web/conftest.py): `anju` commands are forked from
# it, ready imported, rather than started as fresh interpreters. Elsewhere: subprocesses.
fork_server: ForkServer | None = None


def anju(*args: str) -> str:
    env = {**os.environ}
    env.pop("ANJU_CENTRAL_DB", None)
    if fork_server is not None:
        with tempfile.TemporaryDirectory(prefix="anju-cli-") as scratch:
            out, err = Path(scratch) / "stdout", Path(scratch) / "stderr"
            command = fork_server.spawn(list(args), out, env, err=err)
            try:
                code = command.wait(60)
            except subprocess.TimeoutExpired:
                _signal_group(command.pid, signal.SIGKILL)  # as subprocess.run kills it
                command.wait()
                raise
            assert code == 0, err.read_text("utf-8", errors="replace")
            return out.read_text("utf-8")
    done = subprocess.run([*ANJU, *args], capture_output=True, text=True, timeout=60,
                          check=False, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def csrf_of(html: str) -> str:
    """The CSRF token a page carries (terminal/web/guard.py)."""
    found = re.search(r'<meta name="anju-csrf" content="([^"]*)">', html)
    assert found, html[:500]
    return found.group(1)


def write_settings(work: Path, *, identity: bool = True) -> Path:
    config = work / "terminal.toml"
    device = '[device]\ndevice_id = "web-test-0001"\nsite_code = "4401060001"\n\n' \
        if identity else ""
    config.write_text(
        device + f'[store]\ndatabase = "{work / "terminal.db"}"\nmin_free_bytes = 0\n\n'
        f'[sync]\ncredential_file = "{work / "credential.json"}"\n'
        f'state_file = "{work / "sync-state.json"}"\npoll_interval_s = 1\n'
        'backoff_initial_s = 1\nbackoff_cap_s = 2\nheartbeat_interval_s = 60\n\n'
        '[web]\noperator = "clerk-07"\n', "utf-8")
    return config


class Process:
    def __init__(self, args: list[str], log: Path, wrapper: tuple[str, ...] = ()) -> None:
        self.log = log
        self.process: subprocess.Popen[bytes] | Forked
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if fork_server is not None and not wrapper:
            # A session of its own as below; the fork server reaps it and tells its code.
            self.process = fork_server.spawn(args, log, env)
            return
        with open(log, "ab") as out:  # wrapper: e.g. ("faketime", "1970-01-01 00:00:05")
            self.process = subprocess.Popen([*wrapper, *ANJU, *args], stdout=out,
                                            stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=ROOT,
                                            env=env,
                                            # a group of its own: faketime forks the service
                                            # and does not pass SIGTERM on, so the group is
                                            # signalled, never the wrapper alone
                                            start_new_session=True)

    def stop(self) -> int:
        group = self.process.pid
        if self.process.poll() is None:
            _signal_group(group, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                _signal_group(group, signal.SIGKILL)
                self.process.wait()
        deadline = time.monotonic() + 15  # the forked service may still be shutting down
        while _signal_group(group, 0) and time.monotonic() < deadline:
            time.sleep(0.05)
        _signal_group(group, signal.SIGKILL)  # nothing of the group outlives the test
        return int(self.process.returncode)


def _signal_group(group: int, signum: int) -> bool:
    """Signal the process group; False once no process of it is left."""
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        return False
    return True


class Desk:
    """The terminal service with a simulated reader, on a free loopback port."""

    def __init__(self, work: Path, config: Path, *, simulate: bool = True,
                 wrapper: tuple[str, ...] = (), port: int | None = None) -> None:
        self.work = work
        self.config = config
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.service = Process(["terminal", "run", "--config", str(config), "--port",
                                str(self.port), *(["--simulate"] if simulate else [])],
                               work / "terminal.log", wrapper)
        self.uploader: Process | None = None
        try:
            self._wait_ready()
        except BaseException:
            self.service.stop()  # nothing left running behind a service that never came up
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 90  # a bound on failure only (a loaded machine)
        while time.monotonic() < deadline:
            assert self.service.process.poll() is None, self.service.log.read_text()
            try:
                with requests.Session() as s:
                    if s.get(self.url + "/healthz", timeout=1).json()["reader"] == "idle":
                        return
            except (requests.RequestException, ValueError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"terminal not ready: {self.service.log.read_text()[-2000:]}")

    def sim(self, action: str, **body: Any) -> None:
        with requests.Session() as s:
            answer = s.post(f"{self.url}/sim/{action}", json=body, timeout=10)
        assert answer.status_code == 200, answer.text

    def client(self, path: str = "/") -> requests.Session:
        """A session as the page has one: its anju_csrf cookie and token (from `path`); call
        again after signing in (the token is bound to the clerk's session)."""
        session = requests.Session()
        renew(session, self.url + path)
        return session

    def place(self, index: int = 0, **body: Any) -> None:
        self.sim("place", index=index, **body)

    def start_uploader(self) -> None:
        self.uploader = Process(["sync", "run", "--config", str(self.config)],
                                self.work / "sync.log")

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.work / 'terminal.db'}?mode=ro", uri=True)
        try:
            return conn.execute(sql, args).fetchall()
        finally:
            conn.close()

    def stop(self) -> None:
        if self.uploader is not None:
            self.uploader.stop()
        # uvicorn re-raises the SIGTERM it handled once it has shut down: a clean stop.
        code = self.service.stop()
        assert code in (0, -signal.SIGTERM), self.service.log.read_text()[-2000:]
        assert "Traceback" not in self.service.log.read_text("utf-8", errors="replace")


def renew(session: requests.Session, url: str) -> None:
    """Load `url` and send the token it carries with every later request of `session`."""
    with session.get(url, timeout=10) as answer:
        session.headers["X-CSRF-Token"] = csrf_of(answer.text)
