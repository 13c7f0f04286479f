"""`anju provision --server URL --token TOKEN`: enrol this terminal with the central server.

1. an installation id, chosen once and kept beside the credential, so a lost answer can be
   asked again with the same token (the server answers the same device);
2. enrol: the one-time token for a site -> device id and per-device secret;
3. the credential is written with mode 0600 (atomically) to `sync.credential_file`;
4. `[device]` identity and `sync.server_url` are written into the settings file;
5. a signed heartbeat proves the credential works end to end.

The secret is never printed or logged.
"""

from __future__ import annotations

import json
import shutil
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any

import click

from sync.client import SyncClient
from sync.errors import RequestError
from terminal.commands.context import EXIT_REFUSED, reporting
from terminal.config import ENV_VAR, config_path, from_mapping
from terminal.errors import ConfigError
from terminal.sync_service import SOFTWARE_VERSION, write_private


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def dump_toml(doc: dict[str, dict[str, Any]]) -> str:
    """Our settings are one level of tables of scalars: that is all this writes."""
    lines: list[str] = []
    for section, entries in doc.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {_toml_value(value)}" for key, value in entries.items()]
        lines.append("")
    return "\n".join(lines)


def _installation_id(credential_file: Path) -> str:
    """Chosen once per installation and kept, so re-running provision re-asks, not re-enrols."""
    path = credential_file.with_name(credential_file.name + ".installation")
    try:
        return str(json.loads(path.read_text("utf-8"))["installation_id"])
    except FileNotFoundError:
        value = str(uuid.uuid4())
        write_private(path, {"installation_id": value})
        return value
    except (OSError, ValueError, KeyError) as err:
        raise ConfigError(f"cannot read {path}: {type(err).__name__}", "安装编号无法读取") from err


@click.command()
@click.option("--server", "server_url", required=True, help="Central server base URL.")
@click.option("--token", required=True, help="One-time enrolment token for this site.")
@click.option("--config", "config_file", type=click.Path(dir_okay=False, path_type=Path),
              envvar=ENV_VAR, show_envvar=True,
              help="Settings file to write the identity into (default /etc/anju/terminal.toml).")
def provision(server_url: str, token: str, config_file: Path | None) -> None:
    """Enrol this terminal, store its credential (0600), write its identity, confirm."""
    with reporting():
        path = config_path(config_file)
        raw: dict[str, dict[str, Any]] = {}
        if path.exists():
            raw = tomllib.loads(path.read_text("utf-8"))
        raw.setdefault("sync", {})["server_url"] = server_url.rstrip("/")
        config = from_mapping(raw, source=path)  # validates the URL before we use it
        credential_file: Path = config["sync.credential_file"]
        installation = _installation_id(credential_file)
        with SyncClient(server_url) as client:
            try:
                enrolment = client.enroll(token, installation, SOFTWARE_VERSION)
            except RequestError as err:
                click.echo(f"error: enrolment failed: {err.code or type(err).__name__}",
                           err=True)
                sys.exit(EXIT_REFUSED)
            write_private(credential_file, {
                "device_id": enrolment.device_id, "site_code": enrolment.site_code,
                "secret": enrolment.secret, "server_url": server_url.rstrip("/")})
            raw["device"] = {"device_id": enrolment.device_id,
                             "site_code": enrolment.site_code}
            from_mapping(raw, source=path)  # refuse to write a file we could not read back
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(dump_toml(raw), "utf-8")
            try:
                client.heartbeat(software_version=SOFTWARE_VERSION, backlog=0,
                                 oldest_queued_age_s=None, reader_status="unknown",
                                 disk_free_bytes=_disk_free(credential_file))
            except RequestError as err:
                click.echo(f"error: enrolled as {enrolment.device_id}, but the signed heartbeat "
                           f"failed: {err.code or type(err).__name__}", err=True)
                sys.exit(EXIT_REFUSED)
    click.echo(f"provisioned {enrolment.device_id} for site {enrolment.site_code} "
               f"({enrolment.site_name}); credential {credential_file} (0600); settings {path}")


def _disk_free(path: Path) -> int:
    return shutil.disk_usage(path.parent).free
