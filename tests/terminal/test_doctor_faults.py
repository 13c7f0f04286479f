"""`anju doctor`: the faults not caused in test_doctor.py, each caused for real and named:
a reader at another baud than the settings say and repeated read errors (the simulated reader,
its rate enforced, its `transient` fault with a card on it: the reader check run in this process
over the simulator's in-memory line, so the probe's silent rates cost no real seconds), a port
where no reader answers (a real pty nobody holds, probed over such a line to a device that
answers nothing), and a server whose TLS
certificate is not trusted, names another host, or has expired (a real TLS server on loopback,
certificates made by the `openssl` CLI)."""

from __future__ import annotations

import dataclasses
import http.server
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from drivers.idcard.transport import SerialTransport, Timeouts
from drivers.sim.device import SimDevice
from drivers.sim.idcard import SimulatedReader
from drivers.sim.link import SimLink, VirtualClock
from drivers.sim.sam import load_sim_cards
from terminal.config import load_config
from terminal.doctor import Context, Finding, exit_code, remote
from tests.central.serverproc import free_port
from tests.faketime import faketime as faketime_command
from tests.sync.uploader_helpers import Terminal
from tests.terminal.test_doctor import central, doctor, failing, sim, term

__all__ = ["central", "sim", "term"]  # fixtures shared with test_doctor.py


def _use_reader(term: Terminal, old: str, new: str, baud: int | None = None) -> None:
    text = term.config_path.read_text().replace(f'port = "{old}"', f'port = "{new}"'
                                                + (f"\nbaud = {baud}" if baud else ""))
    term.config_path.write_text(text)


def reader_check(term: Terminal, device: SimDevice, baud: int = 0) -> list[Finding]:
    """The doctor's reader check, in this process, on an in-memory line to `device`."""
    config = load_config(term.config_path)
    link = SimLink(device)

    def open_reader(port: str, preferred: int | None, timeouts: Timeouts
                    ) -> tuple[SerialTransport, VirtualClock]:  # fmt: skip
        transport = SerialTransport(link.url, baud=preferred, timeouts=timeouts,
                                    opener=link.open, clock=link.clock)  # fmt: skip
        return transport, link.clock

    with_baud = dataclasses.replace(config, values={**config.values, "reader.baud": baud})
    return remote.reader(Context(with_baud, None, local_url=f"http://127.0.0.1:{free_port()}",
                                 open_reader=open_reader))  # fmt: skip


def reader_finding(findings: list[Finding]) -> Finding:
    return next(f for f in findings if f.check == "reader")


def test_a_reader_at_another_baud_than_the_settings_say(term: Terminal):
    findings = reader_check(term, SimDevice(baud=9600), baud=115200)
    assert exit_code(findings) == 12
    found = reader_finding(findings)
    assert found.level == "warn"
    assert "answers at 9600 baud, but reader.baud is 115200" in found.what
    assert "reader.baud = 9600" in found.todo


def test_the_right_baud_is_all_well(term: Terminal):
    findings = reader_check(term, SimDevice(baud=9600), baud=9600)
    assert exit_code(findings) == 0, findings
    assert "9600 baud" in reader_finding(findings).what


def test_repeated_read_errors_are_named_with_what_to_do(term: Terminal):
    device = SimDevice(faults="transient:1.0", seed=7)
    device.place(load_sim_cards()[0])
    findings = reader_check(term, device)
    assert exit_code(findings) == 12
    found = reader_finding(findings)
    assert found.level == "warn" and "repeated read errors" in found.what
    assert "failed reads in a row" in found.what
    assert "wipe it" in found.todo and "replace the reader" in found.todo


def test_one_card_read_well_is_not_a_read_error(term: Terminal, sim: SimulatedReader):
    sim.place(load_sim_cards()[0])
    code, doc = doctor(term.config_path, "--only", "reader")
    assert code == 0, failing(doc)


# -- TLS ------------------------------------------------------------------------------------


def _certificate(folder: Path, name: str, san: str, *, faketime: str | None = None
                 ) -> tuple[Path, Path]:
    """A self-signed certificate (its own CA) for `san`; under faketime, dated then."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    command = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
               "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
               f"/CN={name}", "-addext", f"subjectAltName={san}", "-keyout", str(key),
               "-out", str(cert)]
    if faketime:
        command = [*faketime_command(faketime), *command]
    subprocess.run(command, check=True, capture_output=True, timeout=30)
    return cert, key


class _Nothing(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tls_server() -> Iterator[object]:
    """Start a TLS server on loopback with a given certificate: `start(cert, key) -> url`."""
    servers: list[tuple[http.server.ThreadingHTTPServer, threading.Thread]] = []

    def start(cert: Path, key: Path) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Nothing)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"https://127.0.0.1:{server.server_address[1]}"

    yield start
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _point_at(term: Terminal, url: str, ca: Path) -> None:
    old = term.config["sync.server_url"]
    text = term.config_path.read_text().replace(f'server_url = "{old}"',
                                                f'server_url = "{url}"\nca_file = "{ca}"')
    assert url in text
    term.config_path.write_text(text)


@pytest.mark.parametrize("case", ["untrusted", "name", "expired"])
def test_a_bad_certificate_is_named_with_its_fix(term: Terminal, tmp_path: Path,
                                                  tls_server: object, case: str):
    if case == "expired" and shutil.which("faketime") is None:
        pytest.skip("faketime is not installed")
    cert, key = _certificate(
        tmp_path, "server", "DNS:wrong.example" if case == "name" else "IP:127.0.0.1",
        faketime="2020-01-01 00:00:00" if case == "expired" else None)
    ca = _certificate(tmp_path, "police-ca", "IP:127.0.0.1")[0] if case == "untrusted" else cert
    url = tls_server(cert, key)  # type: ignore[operator]
    _point_at(term, url, ca)
    code, doc = doctor(term.config_path, "--only", "server", "--server-timeout", "2")
    assert code == 14
    found = failing(doc)["server.tls"]
    expected = {
        "untrusted": ("not signed by a CA this terminal trusts", "set sync.ca_file"),
        "name": ("for another name than sync.server_url's host", "sync.server_url"),
        "expired": ("certificate has expired", "renew the server's certificate"),
    }[case]
    assert expected[0] in found["what"], found
    assert expected[1] in found["todo"], found


# -- the serial scanner ---------------------------------------------------------------------


def _use_scanner(term: Terminal, port: str) -> None:
    with open(term.config_path, "a", encoding="utf-8") as out:
        out.write(f'[scanner]\nport = "{port}"\n')


def test_a_scanner_absent_present_or_held(term: Terminal, tmp_path: Path):
    import serial

    from drivers.sim.scanner import SimulatedScanner

    with SimulatedScanner() as scanner:
        _use_scanner(term, scanner.port)
        code, doc = doctor(term.config_path, "--only", "reader")
        assert code == 0, failing(doc)
        present = next(f for f in doc["findings"] if f["check"] == "scanner")
        assert "present and free" in present["what"]
        with serial.Serial(scanner.port, exclusive=True):  # another program holds it
            held_code, held = doctor(term.config_path, "--only", "reader")
        assert held_code == 12
        assert "is in use by pid" in failing(held)["scanner"]["what"]
    # unplugged: the simulator's by-id link is gone
    code, doc = doctor(term.config_path, "--only", "reader")
    assert code == 12
    found = failing(doc)["scanner"]
    assert "scanner absent" in found["what"] and "does not exist" in found["what"]
    assert "--scanner-wait" in found["todo"]


def test_a_port_where_no_reader_answers_names_the_other_ports(term: Terminal,
                                                              sim: SimulatedReader):
    import os

    master, slave = os.openpty()  # a serial port with something else (or nothing) on it
    port = os.ttyname(slave)
    os.close(slave)  # nobody holds it: only the other end is open
    try:
        _use_reader(term, sim.port, port)
        # Probed over a line to a device that answers nothing: its five silent rates cost
        # virtual seconds (test_doctor.py probes real ptys).
        findings = reader_check(term, SimDevice(faults="drop:1.0"))
    finally:
        os.close(master)
    assert exit_code(findings) == 12
    found = reader_finding(findings)
    assert found.level == "fail" and f"no reader answers on {port}" in found.what
    assert "wrong port?" in found.todo and "reader.baud unset" in found.todo


def test_a_reader_port_held_by_another_process_names_it(term: Terminal, sim: SimulatedReader):
    import serial

    with serial.Serial(sim.port, exclusive=True):  # e.g. a vendor tool left running
        code, doc = doctor(term.config_path, "--only", "reader", "--page-url",
                           "http://127.0.0.1:9")  # no terminal service answers
    assert code == 12
    found = failing(doc)["reader"]
    assert "is in use by pid" in found["what"] and "stop the other process" in found["todo"]


def test_the_self_test_page_words_for_the_new_reader_faults():
    from terminal.doctor import WARN
    from terminal.web.selftest import FAULTS, fault_key

    for cause, key in (("wrong_baud", "reader.baud"), ("read_errors", "reader.read_errors")):
        finding = Finding("reader", "reader", WARN, "x", "y", {"state": "idle", "cause": cause})
        assert fault_key(finding) == key and key in FAULTS
