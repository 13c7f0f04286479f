"""The watchdog pings only while the loops that matter progress (terminal/system/liveness.py).

Unit level: deadlines, the pinger's decision. Process level: the real `anju terminal run` (with
its simulated reader on a pty) and `anju sync run` under a notify-socket listener, as systemd
runs them (NOTIFY_SOCKET, WATCHDOG_USEC); a hang switched on in the reader loop, the store
writer or the upload loop (tests/terminal/hang_harness.py) stops the pings and names the loop."""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from terminal.store.database import Store
from terminal.system import liveness
from tests import anju
from tests.forkserver import Forked

HARNESS = "tests.terminal.hang_harness:main"  # the CLI with hangs a test switches on


# ---- unit level ------------------------------------------------------------------------------


def test_a_loop_is_overdue_only_past_its_deadline() -> None:
    loops = [
        liveness.Loop("a", lambda: 10.0),
        liveness.Loop("idle", lambda: None),
        liveness.since("b", lambda: 5.0, 3.0),
    ]
    assert liveness.overdue(loops, now=7.9) == []
    assert liveness.overdue(loops, now=8.1) == ["b"]
    assert liveness.overdue(loops, now=10.1) == ["a", "b"]


def test_a_heartbeat_moves_its_deadline() -> None:
    beat = liveness.Heartbeat("x", within=-1.0)  # born late
    assert liveness.overdue([beat.loop]) == ["x"]
    beat.beat(within=60.0)
    assert liveness.overdue([beat.loop]) == []


def test_the_pinger_pings_only_while_every_loop_is_on_time() -> None:
    sent: list[str] = []
    late = {"value": False}
    loops = [liveness.Loop("reader loop", lambda: 0.0 if late["value"] else float("inf"))]
    dog = liveness.Watchdog(loops, interval=1.0, notify=lambda m: sent.append(m) or True)
    assert dog.check() and sent == ["WATCHDOG=1"]
    late["value"] = True
    assert not dog.check() and not dog.check()
    assert sent == ["WATCHDOG=1", "STATUS=stalled: reader loop"]  # said once, no ping
    late["value"] = False
    assert dog.check()
    assert sent[-2:] == ["STATUS=running", "WATCHDOG=1"]


def test_the_writer_is_busy_only_inside_a_transaction(tmp_path: Path) -> None:
    with Store.open(tmp_path / "t.db", create=True, migrate=True) as store:
        writer = store.writer
        assert writer.busy_since is None
        seen = writer.transaction(lambda _txn: writer.busy_since)
        assert seen is not None and writer.busy_since is None


# ---- process level ---------------------------------------------------------------------------


class Notifications:
    """A systemd notify socket: the datagrams a service sends, in order."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.messages: list[str] = []

    def wait(
        self,
        process: subprocess.Popen[bytes] | Forked,
        log: Path,
        done: Callable[[list[str]], bool],
        timeout: float = 60.0,
    ) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.messages):
            assert time.monotonic() < deadline, (self.messages[-5:], log.read_text()[-3000:])
            assert process.poll() is None, log.read_text()[-3000:]
            self.receive()

    def receive(self) -> None:
        with contextlib.suppress(TimeoutError):
            self.messages.append(self.sock.recv(4096).decode())

    def close(self) -> None:
        self.sock.close()


def start(
    tmp_path: Path, *args: str
) -> tuple[subprocess.Popen[bytes] | Forked, Notifications, Path]:
    listener = Notifications(tmp_path / "notify")
    log = tmp_path / "service.log"
    env = {
        "NOTIFY_SOCKET": str(listener.path),
        "WATCHDOG_USEC": "400000",
        "ANJU_TEST_HANG_DIR": str(tmp_path),
        "WATCHDOG_PID": "",  # empty: meant for whichever process reads it
    }
    process = anju.start(list(args), log, env, entry=HARNESS)
    return process, listener, log


def pings(messages: list[str]) -> int:
    return messages.count("WATCHDOG=1")


def hang_stops_the_pings(tmp_path: Path, loop: str, stalled: str, *args: str) -> None:
    process, listener, log = start(tmp_path, *args)
    try:
        listener.wait(process, log, lambda m: bool(m) and pings(m) >= 3)
        assert listener.messages[0].startswith("READY=1")
        (tmp_path / loop).touch()
        listener.wait(process, log, lambda m: f"STATUS=stalled: {stalled}" in m)
        after = len(listener.messages)
        # Four ping intervals more (0.5 s each: sdnotify's floor, whatever WATCHDOG_USEC says):
        # a single ping here would keep systemd from restarting us.
        until = time.monotonic() + 2.0
        while time.monotonic() < until:
            listener.receive()
        assert "WATCHDOG=1" not in listener.messages[after - 1 :], listener.messages[after - 3 :]
        assert process.poll() is None  # alive but hung: exactly what only a watchdog catches
        assert f"no progress from {stalled}" in log.read_text()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        listener.close()


def terminal_config(tmp_path: Path) -> Path:
    config = tmp_path / "terminal.toml"
    config.write_text(f'[store]\ndatabase = "{tmp_path / "t.db"}"\nmin_free_bytes = 0\n')
    return config


@pytest.mark.parametrize(
    ("loop", "stalled"), [("reader", "reader loop"), ("writer", "store writer")]
)
def test_a_hung_terminal_loop_stops_the_pings(tmp_path: Path, loop: str, stalled: str) -> None:
    hang_stops_the_pings(
        tmp_path,
        loop,
        stalled,
        "terminal",
        "run",
        "--config",
        str(terminal_config(tmp_path)),
        "--simulate",
        "--port",
        "0",
    )


def test_a_hung_upload_loop_stops_the_pings(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a loopback port nobody listens on: requests fail fast
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    credential = tmp_path / "credential.json"
    credential.write_text(
        json.dumps({"device_id": "wd-test-0001", "site_code": "4401060001", "secret": "00" * 32})
    )
    config = tmp_path / "terminal.toml"
    config.write_text(
        f'[device]\ndevice_id = "wd-test-0001"\nsite_code = "4401060001"\n\n'
        f'[store]\ndatabase = "{tmp_path / "t.db"}"\nmin_free_bytes = 0\n\n'
        f'[sync]\nserver_url = "http://127.0.0.1:{port}"\ncredential_file = "{credential}"\n'
        f'state_file = "{tmp_path / "sync-state.json"}"\npoll_interval_s = 1\n'
        "backoff_initial_s = 1\nbackoff_cap_s = 1\n"
    )
    assert anju.run("store", "init", "--config", str(config)).returncode == 0
    hang_stops_the_pings(tmp_path, "upload", "upload loop", "sync", "run", "--config", str(config))


def test_sync_run_reports_ready_pings_and_stops_cleanly(tmp_path: Path) -> None:
    """Without a hang the uploader pings on while it fails to reach the server (waiting out
    retries is progress), and SIGTERM ends it with STOPPING=1."""
    config = tmp_path / "terminal.toml"
    credential = tmp_path / "credential.json"
    credential.write_text(
        json.dumps({"device_id": "wd-test-0001", "site_code": "4401060001", "secret": "00" * 32})
    )
    config.write_text(
        f'[store]\ndatabase = "{tmp_path / "t.db"}"\nmin_free_bytes = 0\n\n'
        f'[sync]\nserver_url = "http://127.0.0.1:9"\ncredential_file = "{credential}"\n'
        f'state_file = "{tmp_path / "sync-state.json"}"\nbackoff_initial_s = 1\n'
        "backoff_cap_s = 1\n"
    )
    assert anju.run("store", "init", "--config", str(config)).returncode == 0
    process, listener, log = start(tmp_path, "sync", "run", "--config", str(config))
    try:
        # Six pings span five 0.5 s intervals (sdnotify's floor): longer than the 2 s bound.
        listener.wait(process, log, lambda m: pings(m) >= 6)
        assert listener.messages[0].startswith("READY=1")
        assert not any(m.startswith("STATUS=stalled") for m in listener.messages)
        process.send_signal(signal.SIGTERM)
        process.wait(20)
        listener.receive()
        assert listener.messages[-1] == "STOPPING=1"
        assert process.returncode == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        listener.close()
