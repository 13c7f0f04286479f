"""A fork server for the `anju` commands the tests start: one process that has already imported
the terminal and the central server forks a child per command, instead of a fresh interpreter
importing it (the session's one: tests/conftest.py, `fork_server`).

Each `anju terminal run` costs about 0.7 s of CPU before it serves anything, nearly all of it
imports (FastAPI, SQLite helpers, requests, argon2, the drivers); the front-desk tests start
one per test, and call `anju provision` and `anju central ...` beside it. An `anju central
serve` costs 1.5 s of imports (SQLAlchemy, FastAPI, alembic, the app) before it migrates in
0.2 s; the central tests start a few dozen servers and feed consumers. A forked child runs
the same `anju` entry point with the same arguments, in a session of its own (so the tests
signal its process group as before), with its output in a log file; only the imports are
shared. The server imports nothing that starts a thread or opens a file, so forking it is safe.

Protocol: one JSON object a line on stdin, one answer a line on stdout, one request at a time.
    {"spawn": [args], "log": path, "err": path, "env": {...}, "cwd": path}  ->  {"pid": n}
        (stdout to "log", stderr to "err" if given, else to "log" too)
    {"wait": pid, "timeout": s}  ->  {"code": n | null}   (null: still running after timeout)
The exit code is as `subprocess` gives it: negative for a signal. The server reaps its children
itself (they are not the test process's children), so waiting goes through it.

Run as `python -m tests.forkserver`; the test side is `ForkServer` below.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

# What `anju terminal run`, `anju provision`, `anju sync run` and `anju central` import: the
# commands' modules and the ones they import lazily, inside the command functions (psycopg
# and the watchdog: a server on PostgreSQL).
PRELOAD = ("terminal.cli", "terminal.commands.terminal_cmd", "terminal.commands.provision",
           "terminal.commands.sync", "terminal.desk.frontdesk", "terminal.web.app",
           "terminal.web.server", "terminal.doctor.file_checks", "drivers.sim.sam", "uvicorn",
           "central.cli.main", "central.cli.server", "central.cli.devices",
           "central.cli.accounts", "central.cli.feed", "central.cli.feed_tokens",
           "central.cli.retention", "central.cli.updates", "central.app", "central.migrate",
           "central.db.watchdog", "psycopg", "central.feed.consumer")


def _child(args: list[str], log: str, err: str, env: dict[str, str], cwd: str) -> None:
    """In the forked child: become `anju ARGS` in a session of its own; never returns."""
    code = 1
    try:
        os.setsid()
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), 1)
        os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), 2)
        os.closerange(3, 1 << 16)  # the server's pipes and nothing else of it
        sys.argv = ["anju", *args]
        from terminal.cli import main

        try:
            main()
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:  # the child must never return into the server's loop
        import traceback

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)


def _compile_templates() -> None:
    """Compile the page's templates once, here: each service otherwise compiled every template
    it rendered, again (50-90 ms of CPU for a page's first view, ~0.2 s for a test)."""
    from terminal.web import i18n

    for locale in i18n.LOCALES:
        env = i18n.environment(locale)
        for name in env.list_templates(extensions=["html"]):
            env.get_template(name)


def _status(raw: int) -> int:
    return -os.WTERMSIG(raw) if os.WIFSIGNALED(raw) else os.WEXITSTATUS(raw)


def serve(requests: IO[str], answers: IO[str]) -> None:
    """The server's loop: until stdin closes."""
    for name in PRELOAD:
        __import__(name)
    _compile_templates()
    # A thread would not survive into the children (only the forking one does), with its locks.
    assert threading.active_count() == 1, threading.enumerate()
    # Out of the collector's sight: a child's collections would otherwise touch, and so copy,
    # every page of the imported modules it shares with the server.
    gc.freeze()
    answers.write("{}\n")  # ready
    answers.flush()
    for line in requests:
        request = json.loads(line)
        answer: dict[str, Any]
        if "spawn" in request:
            pid = os.fork()
            if pid == 0:
                _child(request["spawn"], request["log"], request.get("err", request["log"]),
                       request["env"], request["cwd"])
            answer = {"pid": pid}
        else:
            answer = {"code": _wait(request["wait"], request["timeout"])}
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def _wait(pid: int, timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, raw = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None  # not ours (already reaped: the caller keeps the code it was given)
        if done:
            return _status(raw)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)


class ForkServer:
    """The test side: start the server once (a session fixture), then `spawn` commands."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.forkserver"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, cwd=cwd, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._ask(None)  # ready once it has imported everything

    def _ask(self, request: dict[str, Any] | None) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        if request is not None:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the fork server ended (code {self.process.poll()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def spawn(self, args: list[str], log: Path, env: dict[str, str], *,
              err: Path | None = None) -> Forked:
        pid = self._ask({"spawn": args, "log": str(log), "err": str(err or log), "env": env,
                         "cwd": str(self.cwd)})
        return Forked(self, pid["pid"])

    def wait(self, pid: int, timeout: float) -> int | None:
        code: int | None = self._ask({"wait": pid, "timeout": timeout})["code"]
        return code

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(10)
        self.process.stdout.close()


class Forked:
    """A forked command with the part of `subprocess.Popen`'s interface the tests use."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self.wait(0.0, raise_on_timeout=False)

    def wait(self, timeout: float | None = None, *, raise_on_timeout: bool = True) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.wait(self.pid, 3600.0 if timeout is None else timeout)
            if self.returncode is None and raise_on_timeout:
                raise subprocess.TimeoutExpired(f"anju (pid {self.pid})", timeout or 0.0)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, signum)


if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
