"""Child processes of `anju demo`: started with their own logs, stopped in reverse order.

Each part of the system runs as the same command a technician would run (`anju central serve`,
`anju terminal run`, `anju sync run`), so the demo shows the real processes, not a shortcut.
The short setup commands before them (a site, a token, provisioning) are the same `anju`
commands too, run in the demo's own process: a fresh interpreter for each would import them
all again (~0.7 s of CPU each, several seconds on a Raspberry Pi).
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import requests

from terminal.errors import TerminalError

ANJU = [sys.executable, "-c", "from terminal.cli import main; main()"]


class DemoError(TerminalError):
    """A part of the demo did not start; the message says which and where its log is."""

    default_zh = "演示的某个部分未能启动"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_anju(anju: click.Command, *args: str) -> str:
    """One short `anju ARGS` in this process (`anju`: the CLI's root command, which loads the
    group by name); its stdout, or DemoError with what it printed on stderr."""
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            anju.main(list(args), prog_name="anju", standalone_mode=False)
        code: object = 0
    except SystemExit as done:
        code = done.code
    except click.ClickException as refused:
        code = refused.exit_code
        err.write(refused.format_message())
    if code not in (0, None):
        raise DemoError(f"anju {args[0]} {args[1] if len(args) > 1 else ''} failed: "
                        f"{(err.getvalue() or out.getvalue()).strip()[-500:]}")
    return out.getvalue()


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("ANJU_CENTRAL_DB", None)
    env.pop("NOTIFY_SOCKET", None)  # the children are not the unit systemd waits for
    return env


class Child:
    """One long-running `anju` process with stdout+stderr in `log`."""

    def __init__(self, name: str, args: list[str], log: Path, cwd: Path) -> None:
        self.name = name
        self.log = log
        with open(log, "ab") as out:  # the child keeps its own descriptor
            self.process = subprocess.Popen([*ANJU, *args], stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=cwd, env=_env(),
                                            start_new_session=True)

    def wait_http(self, url: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DemoError(f"{self.name} exited; see {self.log}")
            try:
                if requests.get(url, timeout=1).status_code < 500:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise DemoError(f"{self.name} did not answer at {url}; see {self.log}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return int(self.process.returncode)
