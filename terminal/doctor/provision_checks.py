"""The checks `anju provision` runs before it writes anything, and its photographable summary.

Each check returns a `Step`: ✓ with what was found, ✗ with what is wrong and the fix. The
network checks reuse doctor's wording (terminal/doctor/remote.py); the reader is found by
asking every candidate port for the SAM status at each baud, as the terminal itself does.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import click

from drivers.idcard.errors import (
    IdCardError,
    NoReaderError,
    PortUnavailableError,
    ReaderFaultError,
)
from drivers.idcard.transport import Timeouts
from sync.diagnosis import TLS, classify
from sync.errors import RequestError
from terminal.doctor import ReaderOpener
from terminal.doctor.portcheck import candidates, diagnose
from terminal.doctor.remote import _refusal, serial_reader

PORTS_ENV = "ANJU_PROVISION_PORTS"  # extra candidate ports (os.pathsep-separated), for tests
STABLE = Path("/dev/anju")  # deploy/udev: one name per USB socket
PROBE_S = 0.5  # per baud: the SAM answers in tens of milliseconds


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    ok: bool | None  # None: skipped or only a warning
    what: str
    fix: str = ""

    def line(self) -> str:
        mark = {True: "✓", False: "✗", None: "–"}[self.ok]
        text = f"{mark} {self.name:<10} {self.what}"
        return text + (f" — fix: {self.fix}" if self.fix else "")


def echo(step: Step) -> Step:
    click.echo(step.line())
    return step


def plain_http_refused(url: str, allow_http: bool) -> Step | None:
    """http:// sends the enrolment secret in clear: loopback only, unless asked for."""
    parts = urlsplit(url)
    if parts.scheme != "http" or allow_http:
        return None
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return Step(
        "server",
        False,
        f"plain http:// to {host} refused: the enrolment secret and "
        "every registration would cross the network unencrypted",
        "use the server's https:// URL (and sync.ca_file for the police CA); "
        "--allow-http only on a closed test network",
    )


def ca_missing(ca_file: str) -> Step | None:
    if not ca_file or os.access(ca_file, os.R_OK):
        return None
    return Step(
        "server",
        False,
        f"CA bundle {ca_file} (sync.ca_file) cannot be read",
        "copy the police CA certificate (PEM) there, or correct sync.ca_file",
    )


def refused(step: str, url: str, err: RequestError, ca_file: str) -> Step:
    """Doctor's classification of a failed exchange; TLS names the CA bundle in use."""
    cause = classify(err)
    if cause.code == TLS:
        trusted = f"sync.ca_file {ca_file}" if ca_file else "the system's CAs (no sync.ca_file)"
        reason = cause.text.removeprefix("TLS handshake with the server failed").lstrip(": ")
        return Step(
            step,
            False,
            f"TLS handshake with {url} failed: "
            + (reason or "its certificate does not chain to the CA bundle or does not name "
               "this host") + f" (trusted: {trusted})",
            cause.advice.removesuffix("; events stay queued")
            + "; and check sync.server_url's host name",
        )
    finding = _refusal(url, err)
    return Step(step, False, finding.what, finding.todo)


def candidate_ports(extra: Iterable[str], exclude: Iterable[str] = ()) -> list[str]:
    """Stable names first, then by-id and the kernel's names, then `extra`; one per device."""
    stable = sorted(str(p) for p in STABLE.glob("port-*")) if STABLE.is_dir() else []
    env = [p for p in os.environ.get(PORTS_ENV, "").split(os.pathsep) if p]
    seen = {os.path.realpath(p) for p in exclude}
    out = []
    for port in [*stable, *candidates(), *extra, *env]:
        real = os.path.realpath(port)
        if real not in seen:
            seen.add(real)
            out.append(port)
    return out


@dataclass(frozen=True, slots=True)
class Probe:
    port: str
    baud: int | None  # set when a reader answered
    why: str  # why not, in words


def probe(port: str, open_reader: ReaderOpener = serial_reader) -> Probe:
    """One port: the SAM status request at each supported baud."""
    transport, _clock = open_reader(port, None, Timeouts(probe=PROBE_S))
    try:
        return Probe(port, transport.open(), "")
    except PortUnavailableError as err:
        return Probe(port, None, diagnose(port, str(err)).english)
    except ReaderFaultError as err:
        return Probe(port, None, f"a reader answers but its SAM module fails: {err}")
    except NoReaderError:
        return Probe(port, None, "no reader answers")
    except IdCardError as err:  # garbage from some other device on the port
        return Probe(port, None, f"no reader answers ({type(err).__name__})")
    finally:
        transport.close()


def find_reader(ports: list[str], open_reader: ReaderOpener = serial_reader
                ) -> tuple[Step, Probe | None]:  # fmt: skip
    """The first port where a reader answers; `open_reader` as doctor's reader check takes it
    (terminal/doctor/__init__.py: pyserial in real time, or the simulator's in-memory line)."""
    tried = []
    for port in ports:
        found = probe(port, open_reader)
        if found.baud is not None:
            return Step("reader", True, f"reader on {port} at {found.baud} baud (SAM answers)"), (
                found
            )
        tried.append(found)
    if not tried:
        return Step(
            "reader",
            False,
            "no serial port found (/dev/anju/port-*, "
            "/dev/serial/by-id/*, /dev/ttyUSB*, /dev/ttyACM*)",
            "plug the reader into its USB socket and check its power; or give --reader-port",
        ), None
    shown = "; ".join(f"{p.port}: {p.why}" for p in tried)
    fault = next((p for p in tried if "SAM" in p.why), None)
    fix = (
        "unplug and replug the reader; if it stays, the reader needs service"
        if fault
        else "check the reader's USB cable and power; the port may be held (stop "
        "anju-terminal while provisioning) or need the dialout group"
    )
    return Step("reader", False, f"no reader found: {shown}", fix), None
