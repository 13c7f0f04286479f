"""`anju provision` checks before it writes: a real simulated reader found among candidate
ports (a real pty where nothing answers passed over, the command forked as the technician runs
it), plain http refused, a wrong CA named, a used token stopping with nothing written. A port
where no reader answers is probed in this process over the simulator's in-memory line, where
the probe's silent rates cost no real seconds."""

from __future__ import annotations

import http.server
import json
import os
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from drivers.idcard.transport import SerialTransport, Timeouts
from drivers.sim.device import SimDevice
from drivers.sim.link import SimLink, VirtualClock
from sync.fields import format_utc
from sync.messages import ServerTime
from terminal.commands import provision
from terminal.config import load_config
from terminal.doctor import ReaderOpener
from tests import anju as forked
from tests.central.central_helpers import Admin
from tests.central.serverproc import CentralServer


def anju(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return forked.run(*args, env={"LANG": "C.UTF-8", **(env or {})}, timeout=120)


def silent_lines(*ports: str, reader: str | None = None) -> ReaderOpener:
    """How provision reaches each of `ports`: an in-memory line (drivers/sim/link.py) to a
    simulated device that answers nothing, and to a working reader at `reader`."""
    links = {port: SimLink(SimDevice(faults="drop:1.0")) for port in ports}
    if reader is not None:
        links[reader] = SimLink(SimDevice())

    def open_reader(port: str, baud: int | None, timeouts: Timeouts
                    ) -> tuple[SerialTransport, VirtualClock]:  # fmt: skip
        link = links[port]
        transport = SerialTransport(link.url, baud=baud, timeouts=timeouts, opener=link.open,
                                    clock=link.clock)  # fmt: skip
        return transport, link.clock

    return open_reader


def provision_here(capsys: pytest.CaptureFixture[str], open_reader: ReaderOpener,
                   **options: Any) -> tuple[int, str]:
    """`anju provision` with these options in this process, its reader probed through
    `open_reader`: its exit code and what it printed."""
    try:
        provision.run(**options, open_reader=open_reader)
        code = 0
    except SystemExit as done:
        code = int(done.code or 0)
    return code, capsys.readouterr().out


def settings(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "terminal.toml"
    path.write_text(
        f'# the technician\'s note\n[store]\ndatabase = "{tmp_path / "terminal.db"}"\n'
        f'[sync]\ncredential_file = "{tmp_path / "credential.json"}"\n'
        f'state_file = "{tmp_path / "sync-state.json"}"\n{extra}',
        "utf-8",
    )
    return path


def written(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name != "terminal.toml")


@pytest.fixture
def central(sqlite_central: CentralServer) -> CentralServer:
    return sqlite_central  # the session's (tests/conftest.py)


@pytest.fixture
def admin(central: CentralServer) -> Iterator[Admin]:
    with Admin(central.db_url, central.url) as the_admin:
        yield the_admin


@pytest.fixture
def sim_reader(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `anju sim reader` process; its pty port."""
    log = tmp_path_factory.mktemp("sim-reader") / "sim.log"  # not among the settings' files
    process = forked.start(["sim", "reader"], log)
    try:
        deadline = time.monotonic() + 60  # a bound on failure only
        while not (port := log.read_text("utf-8").partition("\n")[0]).startswith("/"):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text("utf-8")
            time.sleep(0.02)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def silent_pty() -> Iterator[str]:
    """A serial port where nothing answers."""
    master, slave = os.openpty()
    try:
        yield os.ttyname(slave)
    finally:
        os.close(master)
        os.close(slave)


def test_provision_finds_the_simulated_reader_by_itself(
    tmp_path: Path, admin: Admin, sim_reader: str, silent_pty: str
):
    path = settings(tmp_path)
    result = anju(
        "provision",
        "--server",
        admin.url,
        "--token",
        admin.token(admin.site()),
        "--config",
        str(path),
        "--probe-port",
        silent_pty,
        env={"ANJU_PROVISION_PORTS": sim_reader},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[:2] for line in lines[:8]] == [
        ["✓", "settings"],
        ["✓", "server"],
        ["✓", "enrolment"],
        ["✓", "clock"],
        ["✓", "reader"],
        ["–", "scanner"],
        ["✓", "disk"],
        ["✓", "heartbeat"],
    ]
    config = load_config(path)
    assert config["reader.port"] == sim_reader  # the silent pty was tried and passed over
    assert config["reader.baud"] == 115200
    assert config.require_identity().device_id
    assert path.read_text("utf-8").startswith("# the technician's note\n")
    assert written(tmp_path) == ["credential.json", "credential.json.installation"]


def test_a_port_where_no_reader_answers_stops_with_the_fix(
    tmp_path: Path, admin: Admin, capsys: pytest.CaptureFixture[str]
):
    path = settings(tmp_path)
    before = path.read_bytes()
    silent = "/dev/ttyUSB7"
    code, out = provision_here(capsys, silent_lines(silent), server_url=admin.url,
                               token=admin.token(admin.site()), config_file=path,
                               reader_port=silent)  # fmt: skip
    assert code == 1
    assert f"✗ reader     no reader found: {silent}: no reader answers" in out
    assert "fix: check the reader's USB cable" in out
    assert "· heartbeat  not checked" in out
    assert path.read_bytes() == before
    # enrolled but not kept: only the installation id, so the same token may ask again
    assert written(tmp_path) == ["credential.json.installation"]


def test_plain_http_to_another_host_is_refused(tmp_path: Path):
    path = settings(tmp_path)
    before = path.read_bytes()
    result = anju(
        "provision",
        "--server",
        "http://central.example",
        "--token",
        "t",
        "--config",
        str(path),
        "--no-reader",
    )
    assert result.returncode == 1
    assert "✗ server     plain http:// to central.example refused" in result.stdout
    assert "fix: use the server's https:// URL" in result.stdout
    assert path.read_bytes() == before and written(tmp_path) == []


def test_a_used_token_stops_with_nothing_written(tmp_path: Path, admin: Admin):
    token = admin.token(admin.site())
    first = tmp_path / "first"
    first.mkdir()
    assert (
        anju(
            "provision",
            "--server",
            admin.url,
            "--token",
            token,
            "--config",
            str(settings(first)),
            "--no-reader",
        ).returncode
        == 0
    )
    second = tmp_path / "second"
    second.mkdir()
    path = settings(second)
    before = path.read_bytes()
    result = anju(
        "provision", "--server", admin.url, "--token", token, "--config", str(path), "--no-reader"
    )
    assert result.returncode == 1
    assert "✗ enrolment  enrolment token refused (token_used)" in result.stdout
    assert "ask for a new token" in result.stdout
    assert path.read_bytes() == before and written(second) == []


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class _TimeOnly(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        now = time.time()
        body = json.dumps(
            ServerTime(format_utc(datetime.fromtimestamp(now, UTC)), now).to_json()
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def https_url(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a self-signed certificate; its URL and certificate."""
    cert, key = _certificate(tmp_path, "server")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TimeOnly)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("trusted", [True, False])
def test_the_ca_file_decides_the_tls_check(
    tmp_path: Path, https_url: tuple[str, Path], trusted: bool
):
    url, cert = https_url
    work = tmp_path / "terminal"
    work.mkdir()
    ca = cert if trusted else _certificate(tmp_path, "other")[0]
    path = settings(work, f'ca_file = "{ca}"\n')
    before = path.read_bytes()
    result = anju(
        "provision", "--server", url, "--token", "t", "--config", str(path), "--no-reader"
    )
    assert result.returncode == 1, result.stdout
    if trusted:  # the handshake passes; this stand-in server knows no enrolment
        assert f"✓ server     {url} answers over TLS (CA {ca})" in result.stdout
        assert "✗ enrolment" in result.stdout  # 501: may have been stored, so the
        assert "run again with the same token" in result.stdout  # installation id is kept
        assert written(work) == ["credential.json.installation"]
    else:
        assert f"✗ server     TLS handshake with {url} failed" in result.stdout
        assert f"sync.ca_file {ca}" in result.stdout
        assert "fix: set sync.ca_file to the police CA bundle" in result.stdout
        assert written(work) == []
    assert path.read_bytes() == before
