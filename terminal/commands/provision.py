"""`anju provision --server URL --token TOKEN`: enrol this terminal with the central server.

1. an installation id, chosen once and kept beside the credential, so a lost answer can be
   asked again with the same token (the server answers the same device);
2. enrol: the one-time token for a site -> device id and per-device secret;
3. the credential is written with mode 0600 (atomically) to `sync.credential_file`;
4. `[device]` identity and `sync.server_url` are set in the settings file, edited in place:
   the technician's comments, order and other settings are kept (terminal/settings_file.py);
5. a signed heartbeat proves the credential works end to end.

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

from sync.client import SyncClient
from sync.errors import RequestError
from terminal.atomic_file import write_json_atomic
from terminal.commands.context import EXIT_REFUSED, reporting
from terminal.config import ENV_VAR, config_path, from_mapping
from terminal.errors import ConfigError
from terminal.settings_file import read_document, set_values, write_text_atomic
from terminal.version import software_version


def _installation_id(credential_file: Path) -> str:
    """Chosen once per installation and kept, so re-running provision re-asks, not re-enrols."""
    path = credential_file.with_name(credential_file.name + ".installation")
    try:
        return str(json.loads(path.read_text("utf-8"))["installation_id"])
    except FileNotFoundError:
        value = str(uuid.uuid4())
        write_json_atomic(path, {"installation_id": value}, mode=0o600)
        _give_to_folder_owner(path)
        return value
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(f"cannot read {path}: {type(err).__name__}", "安装编号无法读取") from err


@click.command()
@click.option("--server", "server_url", required=True, help="Central server base URL.")
@click.option("--token", required=True, help="One-time enrolment token for this site.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              envvar=ENV_VAR, show_envvar=True,
              help="Settings file to set the identity in (default /etc/anju/terminal.toml); "
                   "edited in place: comments, order and other settings are kept.")
@click.option("--reader-port", help="Set reader.port too (e.g. /dev/anju/port-1-1.3: "
              "the reader's USB socket, docs/install.md).")
@click.option("--scanner-port", help="Set scanner.port too (a serial scanner's socket).")
def provision(server_url: str, token: str, config_file: Path | None, reader_port: str | None,
              scanner_port: str | None) -> None:
    """Enrol this terminal, store its credential (0600), write its identity, confirm."""
    with reporting():
        path = config_path(config_file)
        doc = read_document(path)  # a malformed file is refused here, before enrolment
        ports = {"reader.port": reader_port, "scanner.port": scanner_port}
        set_values(doc, {"sync.server_url": server_url.rstrip("/")}
                   | {name: value for name, value in ports.items() if value is not None})
        config = from_mapping(doc.unwrap(), source=path)  # validates the URL before we use it
        credential_file: Path = config["sync.credential_file"]
        installation = _installation_id(credential_file)
        with SyncClient(server_url) as client:
            try:
                enrolment = client.enroll(token, installation, software_version())
            except RequestError as err:
                click.echo(f"error: enrolment failed: {err.code or type(err).__name__}",
                           err=True)
                sys.exit(EXIT_REFUSED)
            write_json_atomic(credential_file, {
                "device_id": enrolment.device_id, "site_code": enrolment.site_code,
                "secret": enrolment.secret, "server_url": server_url.rstrip("/")}, mode=0o600)
            _give_to_folder_owner(credential_file)
            set_values(doc, {"device.device_id": enrolment.device_id,
                             "device.site_code": enrolment.site_code})
            text = doc.as_string()
            _check_readable(text, path)  # refuse to write a file we could not read back
            try:
                write_text_atomic(path, text)
            except ConfigError as err:
                raise ConfigError(f"enrolled as {enrolment.device_id}, but {err}; run "
                                  "`anju provision` again with the same token once fixed",
                                  err.message_zh) from err
            try:
                client.heartbeat(software_version=software_version(), backlog=0,
                                 oldest_queued_age_s=None, reader_status="unknown",
                                 disk_free_bytes=_disk_free(credential_file))
            except RequestError as err:
                click.echo(f"error: enrolled as {enrolment.device_id}, but the signed heartbeat "
                           f"failed: {err.code or type(err).__name__}", err=True)
                sys.exit(EXIT_REFUSED)
    click.echo(f"provisioned {enrolment.device_id} for site {enrolment.site_code} "
               f"({enrolment.site_name}); credential {credential_file} (0600); settings {path}")


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
