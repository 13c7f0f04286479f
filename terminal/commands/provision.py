"""`anju provision --server URL --token TOKEN`: check everything, then enrol this terminal.

The checks run in this order and each prints one line (✓/✗ and the fix) a technician can
photograph; the first failure stops the run:

    settings   the settings file is valid (it is edited in place: comments, order kept)
    server     reachable over TLS with sync.ca_file (plain http:// only to loopback, or with
               --allow-http)
    enrolment  the one-time token accepted: device id and secret, kept in memory
    clock      the offset against the server's clock
    reader     found by asking each candidate port for the SAM status at each baud
    scanner    the --scanner-port exists; without one, the serial ports left after the reader
               are listened to for `--scanner-wait` seconds (15 when run on a terminal) while
               the technician scans any code: a scanner only speaks when it scans
    disk       free space on the store's filesystem
    heartbeat  one signed heartbeat accepted: the credential works end to end

Only then are the credential (0600, atomically) and the settings (identity, server, reader
port and baud) written, so a failure leaves nothing half-written. The one-time token is safe
to use again: the installation id kept beside the credential makes the server answer the same
device again (it is removed when the server refuses the token outright).

The secret is never printed or logged.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tomllib
import uuid
from pathlib import Path

import click

from drivers.barcode.serial_scanner import listen_for_scan
from sync.atomic_file import write_json_atomic
from sync.client import SyncClient
from sync.errors import EnrolmentRefusedError, MaybeDeliveredError, RequestError
from sync.messages import Enrolment
from terminal.commands.context import EXIT_CONFIG, EXIT_REFUSED, reporting
from terminal.config import ENV_VAR, Config, config_path, from_mapping
from terminal.doctor import FAIL, OK, WARN, Context, ReaderOpener
from terminal.doctor.local import disk
from terminal.doctor.provision_checks import (
    PORTS_ENV,
    Step,
    ca_missing,
    candidate_ports,
    echo,
    find_reader,
    plain_http_refused,
    refused,
)
from terminal.doctor.remote import OFFSET_LIMIT_S, serial_reader
from terminal.errors import ConfigError
from terminal.system.settings_file import read_document, set_values, write_text_atomic
from terminal.version import software_version

ORDER = ("settings", "server", "enrolment", "clock", "reader", "scanner", "disk", "heartbeat")


class _Stop(Exception):
    def __init__(self, step: Step, code: int = EXIT_REFUSED) -> None:
        super().__init__(step.what)
        self.step, self.code = step, code


def _installation_id(credential_file: Path) -> tuple[str, bool]:
    """Chosen once per installation and kept, so re-running provision re-asks, not re-enrols.

    Returns the id and whether it was made just now (to be removed if the token is refused)."""
    path = credential_file.with_name(credential_file.name + ".installation")
    try:
        return str(json.loads(path.read_text("utf-8"))["installation_id"]), False
    except FileNotFoundError:
        value = str(uuid.uuid4())
        write_json_atomic(path, {"installation_id": value}, mode=0o600)
        _give_to_folder_owner(path)
        return value, True
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(f"cannot read {path}: {type(err).__name__}", "安装编号无法读取") from err


@click.command()
@click.option("--server", "server_url", required=True,
              help="Central server base URL (https://; http:// only to loopback).")
@click.option("--token", required=True, help="One-time enrolment token for this site.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              envvar=ENV_VAR, show_envvar=True,
              help="Settings file to set the identity in (default /etc/anju/terminal.toml); "
                   "edited in place: comments, order and other settings are kept.")
@click.option("--reader-port", help="The reader's port (e.g. /dev/anju/port-1-1.3: the "
              "reader's USB socket, docs/install.md). Default: probe /dev/anju/port-*, "
              "/dev/serial/by-id/*, /dev/ttyUSB*, /dev/ttyACM* for a reader.")
@click.option("--probe-port", "probe_ports", multiple=True,
              help=f"Another candidate port to probe (repeatable; also ${PORTS_ENV}, "
                   "separated by ':').")
@click.option("--no-reader", is_flag=True,
              help="Do not look for a reader (none attached yet; `anju doctor` checks later).")
@click.option("--scanner-port", help="Set scanner.port too (a serial scanner's socket).")
@click.option("--scanner-wait", type=click.FloatRange(min=0), default=None,
              help="Without --scanner-port: listen this many seconds on the serial ports left "
                   "after the reader for a scan (scan any code then); the port it arrives on "
                   "becomes scanner.port. Default 15 when run on a terminal, else 0 (off).")
@click.option("--allow-http", is_flag=True,
              help="Accept a plain http:// server that is not on loopback (test networks only).")
def provision(server_url: str, token: str, config_file: Path | None, reader_port: str | None,
              probe_ports: tuple[str, ...], no_reader: bool, scanner_port: str | None,
              scanner_wait: float | None, allow_http: bool) -> None:
    """Check settings, server (TLS), enrolment, clock, reader, disk and a signed heartbeat;
    only then write the credential (0600) and the settings.

    Prints one line per step (✓/✗ and the fix). Exit 0 provisioned; 2 the settings file is
    invalid or cannot be written; 1 any other check failed (nothing was written)."""
    run(server_url, token, config_file, reader_port, probe_ports, no_reader, scanner_port,
        scanner_wait, allow_http)


def run(server_url: str, token: str, config_file: Path | None, reader_port: str | None = None,
        probe_ports: tuple[str, ...] = (), no_reader: bool = False,
        scanner_port: str | None = None, scanner_wait: float | None = None,
        allow_http: bool = False, *, open_reader: ReaderOpener = serial_reader) -> None:
    """What `anju provision` does with its options (it prints, and exits as it says).
    `open_reader` reaches a candidate port as doctor's reader check does: pyserial in real
    time, or in tests the simulator's in-memory line, where a silent port costs no real time."""
    done: list[str] = []
    try:
        with reporting():
            if scanner_wait is None:
                scanner_wait = 15.0 if sys.stdin.isatty() else 0.0
            _provision(server_url.rstrip("/"), token, config_file,
                       (reader_port, probe_ports, no_reader, open_reader),
                       (scanner_port, scanner_wait), allow_http, done)
    except _Stop as stop:
        click.echo(stop.step.line())
        for name in ORDER[ORDER.index(stop.step.name) + 1:]:
            click.echo(f"· {name:<10} not checked")
        click.echo("nothing was written" + (" (the installation id is kept: run again with "
                                            "the same token)" if "enrolment" in done else ""))
        sys.exit(stop.code)


def _provision(url: str, token: str, config_file: Path | None,
               reader_options: tuple[str | None, tuple[str, ...], bool, ReaderOpener],
               scanner: tuple[str | None, float], allow_http: bool, done: list[str]) -> None:
    reader_port, probe_ports, no_reader, open_reader = reader_options
    scanner_port, scanner_wait = scanner
    path = config_path(config_file)
    try:
        doc = read_document(path)
        set_values(doc, {"sync.server_url": url}
                   | ({"scanner.port": scanner_port} if scanner_port else {}))
        config = from_mapping(doc.unwrap(), source=path)
    except ConfigError as err:
        raise _Stop(Step("settings", False, f"settings invalid: {err}",
                         "correct the settings file (anju config check shows each problem)"),
                    EXIT_CONFIG) from err
    echo(Step("settings", True, f"valid: {path}"))
    ca_file: str = config["sync.ca_file"]
    bad = plain_http_refused(url, allow_http) or ca_missing(ca_file)
    if bad is not None:
        raise _Stop(bad)
    with SyncClient(url, ca_file=ca_file or None, timeout=(5.0, 15.0)) as client:
        try:
            client.server_time()
        except RequestError as err:
            raise _Stop(refused("server", url, err, ca_file)) from err
        how = f"over TLS ({'CA ' + ca_file if ca_file else 'system CAs'})" if url.startswith(
            "https:") else "over plain http (not encrypted)"
        echo(Step("server", True, f"{url} answers {how}"))
        enrolment = _enrol(client, url, token, config, ca_file, done)
        _clock(client.offset)
        reader = _reader(reader_port, probe_ports, no_reader, scanner_port, open_reader)
        reader |= _scanner(scanner_port, probe_ports, reader.get("reader.port"), scanner_wait,
                           config["scanner.baud"])
        database = Path(config["store.database"])
        free = _disk(config, database)
        try:
            client.heartbeat(software_version=software_version(), backlog=0,
                             oldest_queued_age_s=None,
                             reader_status="connected" if reader else "unknown",
                             disk_free_bytes=free)
        except RequestError as err:
            raise _Stop(refused("heartbeat", url, err, ca_file)) from err
        echo(Step("heartbeat", True, f"signed heartbeat accepted from {enrolment.device_id}"))
    credential_file: Path = config["sync.credential_file"]
    write_json_atomic(credential_file, {
        "device_id": enrolment.device_id, "site_code": enrolment.site_code,
        "secret": enrolment.secret, "server_url": url}, mode=0o600)
    _give_to_folder_owner(credential_file)
    set_values(doc, {"device.device_id": enrolment.device_id,
                     "device.site_code": enrolment.site_code} | reader)
    text = doc.as_string()
    _check_readable(text, path)  # refuse to write a file we could not read back
    try:
        write_text_atomic(path, text)
    except ConfigError as err:
        raise ConfigError(f"enrolled as {enrolment.device_id}, but {err}; run "
                          "`anju provision` again with the same token once fixed",
                          err.message_zh) from err
    click.echo(f"provisioned {enrolment.device_id} for site {enrolment.site_code} "
               f"({enrolment.site_name}); credential {credential_file} (0600); settings {path}")


def _enrol(client: SyncClient, url: str, token: str, config: Config, ca_file: str,
           done: list[str]) -> Enrolment:
    credential_file: Path = config["sync.credential_file"]
    installation, fresh = _installation_id(credential_file)
    try:
        enrolment = client.enroll(token, installation, software_version())
    except RequestError as err:
        if isinstance(err, MaybeDeliveredError):
            done.append("enrolment")  # the answer may be lost: the same id asks again
        elif fresh:
            credential_file.with_name(credential_file.name + ".installation").unlink(
                missing_ok=True)
        step = refused("enrolment", url, err, ca_file)
        if isinstance(err, EnrolmentRefusedError) or err.status in (401, 409, 410):
            step = Step("enrolment", False, f"enrolment token refused ({err.code or err.status})",
                        "each token enrols one terminal once: ask for a new token for this "
                        "site (anju central token issue --site CODE)")
        raise _Stop(step) from err
    done.append("enrolment")
    echo(Step("enrolment", True, f"accepted: device {enrolment.device_id}, site "
              f"{enrolment.site_code} ({enrolment.site_name})"))
    return enrolment


def _clock(offset: float) -> None:
    if abs(offset) > OFFSET_LIMIT_S:
        raise _Stop(Step("clock", False, f"clock off by {offset:+.0f} s against the server",
                         "set the time: timedatectl timesync-status (NTP), or "
                         "sudo timedatectl set-time"))
    echo(Step("clock", True, f"within {abs(offset):.1f} s of the server"))


def _reader(port: str | None, extra: tuple[str, ...], skip: bool, scanner_port: str | None,
            open_reader: ReaderOpener) -> dict[str, object]:
    """The settings to write for the reader: its port and the baud it answered at."""
    if skip:
        echo(Step("reader", None, "not looked for (--no-reader): run `anju doctor` once "
                  "it is attached"))
        return {}
    ports = [port] if port else candidate_ports(extra, [scanner_port] if scanner_port else [])
    step, found = find_reader(ports, open_reader)
    if found is None:
        raise _Stop(step)
    echo(step)
    return {"reader.port": found.port, "reader.baud": found.baud}


def _scanner(port: str | None, extra: tuple[str, ...], reader_port: object, wait: float,
             baud: int) -> dict[str, object]:
    """The settings to write for a serial scanner: the given port if it is there, else the
    port a scan arrives on while listening to the ports the reader did not take."""
    if port:
        if "://" in port or os.path.exists(port):
            echo(Step("scanner", True, f"{port} present (scan a code to try it)"))
            return {}
        raise _Stop(Step("scanner", False, f"scanner absent: {port} does not exist",
                         "check the scanner's USB cable or --scanner-port"))
    left = candidate_ports(extra, [str(reader_port)] if reader_port else [])
    if not left:
        echo(Step("scanner", None, "no other serial port: no serial scanner attached (a "
                  "keyboard-wedge scanner needs no setting here)"))
        return {}
    if wait <= 0:
        echo(Step("scanner", None, f"not listened for on {', '.join(left)} (a scanner only "
                  "speaks when it scans: --scanner-wait 15, then scan a code, or "
                  "--scanner-port)"))
        return {}
    click.echo(f"  scanner    scan any barcode now: listening on {', '.join(left)} for "
               f"{wait:g} s", nl=True)
    found = listen_for_scan(left, wait, baud=baud)
    if found.port is None:
        echo(Step("scanner", None, "no scan arrived: no serial scanner set ("
                  + "; ".join(f"{p}: {why}" for p, why in found.why.items())
                  + "); --scanner-port sets one later"))
        return {}
    echo(Step("scanner", True, f"scanner on {found.port} (a scan arrived there)"))
    return {"scanner.port": found.port}


def _disk(config: Config, database: Path) -> int:
    finding = disk(Context(config, database))[0]
    if finding.level == FAIL:
        raise _Stop(Step("disk", False, finding.what, finding.todo))
    echo(Step("disk", True if finding.level == OK else None,
              finding.what, finding.todo if finding.level == WARN else ""))
    return int(finding.detail.get("free_bytes", 0))


def _give_to_folder_owner(path: Path) -> None:
    """Run as root (`sudo anju provision`), hand the file to the owner of its folder.

    The credential lives in the services' state folder (/var/lib/anju, owned by `anju`): left
    root's, mode 0600, the uploader running as `anju` could not read it. Run as anyone else,
    the file is already the runner's and nothing changes.
    """
    if os.geteuid() != 0:
        return
    folder = path.parent.stat()
    if (folder.st_uid, folder.st_gid) != (0, 0):
        os.chown(path, folder.st_uid, folder.st_gid)


def _check_readable(text: str, path: Path) -> None:
    try:
        from_mapping(tomllib.loads(text), source=path)
    except tomllib.TOMLDecodeError as err:  # a bug of ours, never the technician's
        raise ConfigError(f"edited settings for {path} would not read back: {err}",
                          "配置文件无法写入") from err


def _disk_free(path: Path) -> int:
    return shutil.disk_usage(path.parent).free
