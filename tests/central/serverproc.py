"""A real `anju central serve` in a subprocess on a free loopback port, for tests and benches.

A subprocess keeps the server's threads, sockets and database handles out of the test process
(the suite fails tests that leak them), and lets a fault test kill and restart it mid-run:

    server = CentralServer(db_url, log_path).start()
    ...; server.restart(); ...; server.kill(); server.start()
    server.stop()

Given the session's fork server (tests/forkserver.py, `forks=`), the server is forked from a
process that has imported it already: a start then costs about 0.3 s of CPU (the app, the
migration), not 1.8 s (1.5 s of it importing SQLAlchemy, FastAPI and the app afresh).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.forkserver import Forked, ForkServer

ROOT = Path(__file__).parents[2]
STARTUP_TIMEOUT_S = 90.0  # a bound on failure only: a loaded machine may migrate slowly


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CentralServer:
    def __init__(self, db_url: str, log_path: Path, *, port: int | None = None,
                 extra_args: tuple[str, ...] = (), forks: ForkServer | None = None) -> None:
        self.db_url = db_url
        self.log_path = log_path
        self.port = port or free_port()
        self.extra_args = extra_args
        self.forks = forks
        self.process: subprocess.Popen[bytes] | Forked | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> CentralServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> CentralServer:
        args = ["central", "serve", "--db", self.db_url, "--host", "127.0.0.1", "--port",
                str(self.port), *self.extra_args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("ANJU_CENTRAL_DB", None)
        if self.forks is not None:
            self.process = self.forks.spawn(args, self.log_path, env)
        else:
            with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
                self.process = subprocess.Popen(
                    [sys.executable, "-c", "from terminal.cli import main; main()", *args],
                    stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        try:
            self._wait_ready()
        except BaseException:
            self.kill()  # nothing left running behind a server that never came up
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"central server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with requests.Session() as session:
                    if session.get(self.url + "/api/v1/time", timeout=1).status_code == 200:
                        return
            except requests.RequestException:
                time.sleep(0.05)
        raise RuntimeError(f"central server not ready: {self.log_path.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, as in a crash or power cut."""
        self.stop(signal.SIGKILL)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text("utf-8", errors="replace")
