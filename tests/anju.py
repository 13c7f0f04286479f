"""`anju` commands as the terminal and sync tests run them: forked from the worker's fork
server (tests/forkserver.py), ready imported, instead of a fresh interpreter each.

A fresh `anju doctor` or `anju provision` costs about 0.5 s of CPU, nearly all of it imports;
forked, a few hundredths. The command is the same entry point with the same arguments, the
same environment (the test's `os.environ` at the call, plus `env`) and working directory, its
stdin /dev/null, in a session of its own. `forks` is set while a test of a folder whose
conftest.py uses `forked_anju` runs; without it, a fresh interpreter as before.

Commands whose point is a fresh interpreter stay plain subprocesses: under `faketime` (an
LD_PRELOAD library), as another user, and the import-laziness checks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.forkserver import ENTRY, Forked, ForkServer
from tests.web import desk

ROOT = Path(__file__).resolve().parents[1]
PYTHON_ANJU = [sys.executable, "-c", "from terminal.cli import main; main()"]

forks: ForkServer | None = None


def _environment(env: Mapping[str, str] | None, inherit: bool = True) -> dict[str, str]:
    return {**(os.environ if inherit else {}), "PYTHONUNBUFFERED": "1", **(env or {})}


def run(*args: str, env: Mapping[str, str] | None = None, inherit_env: bool = True,
        timeout: float = 60, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """`anju ARGS` to its end, as `subprocess.run(..., capture_output=True, text=True)` gives
    it: exit code (negative for a signal), stdout, stderr. Its environment: the test's with
    `env` over it, or (`inherit_env=False`) `env` alone. A command still running after
    `timeout` is killed (its whole session) and TimeoutExpired raised."""
    environment = _environment(env, inherit_env)
    if forks is None:
        return subprocess.run([*PYTHON_ANJU, *args], capture_output=True, text=True,
                              timeout=timeout, check=False, cwd=cwd, env=environment)
    with tempfile.TemporaryDirectory(prefix="anju-run-") as scratch:
        out, err = Path(scratch) / "stdout", Path(scratch) / "stderr"
        command = forks.spawn(list(args), out, environment, err=err, cwd=cwd)
        try:
            code = command.wait(timeout)
        except subprocess.TimeoutExpired:
            kill_session(command.pid)
            command.wait()
            raise
        return subprocess.CompletedProcess(
            ["anju", *args], code if code is not None else -signal.SIGKILL,
            out.read_text("utf-8", errors="replace"), err.read_text("utf-8", errors="replace"))


def start(args: list[str], log: Path, env: Mapping[str, str] | None = None, *,
          err: Path | None = None, entry: str = ENTRY,
          cwd: Path = ROOT) -> subprocess.Popen[bytes] | Forked:
    """A long-running `anju ARGS` with stdout (and stderr, unless `err` is given) appended to
    `log`: poll, wait, send_signal, terminate and kill as on a `subprocess.Popen`. `entry`
    ("module:function") is called in place of the CLI's main, e.g. a harness that patches it
    first."""
    environment = _environment(env)
    for path in (log, err or log):
        path.touch()  # there to be read at once, before the command writes to it
    if forks is not None:
        return forks.spawn(args, log, environment, err=err, cwd=cwd, entry=entry)
    module, function = entry.split(":")
    with open(log, "ab") as out, open(err or log, "ab") as errors:  # the child keeps its own
        return subprocess.Popen(
            [sys.executable, "-c", f"from {module} import {function}; {function}()", *args],
            stdout=out, stderr=errors, stdin=subprocess.DEVNULL, cwd=cwd, env=environment,
            start_new_session=True)


def kill_session(pid: int) -> None:
    """SIGKILL to everything of a command started here (each has a session of its own)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


@pytest.fixture(autouse=True)
def forked_anju(fork_server: ForkServer) -> Iterator[None]:
    """Autouse where a conftest.py imports it: the `anju` commands and services its tests start
    (here and through tests/web/desk.py) are forked. Set per test, so that tests elsewhere that
    borrow these helpers run theirs as before."""
    global forks
    forks = desk.fork_server = fork_server
    try:
        yield
    finally:
        forks = desk.fork_server = None
