"""`anju handover export|import` and `anju wipe`: replacing a terminal, retiring one.

    anju handover export --out FILE [--config PATH] [--store PATH] [--credential PATH]
    anju handover import FILE [--config PATH]
    anju wipe [--config PATH] [--exported FILE] [--offline] [--yes]

The procedure for the technician is docs/handover.md.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from sync.atomic_file import write_json_atomic
from sync.client import SyncClient
from sync.errors import RequestError, SyncError
from sync.fields import format_utc
from terminal.commands.context import EXIT_REFUSED, reporting
from terminal.commands.options import config_option
from terminal.config import load_config
from terminal.errors import ConfigError
from terminal.uploading import handover as core
from terminal.uploading.sync_service import load_credentials


@click.group()
def handover() -> None:
    """Move a replaced terminal's undelivered registrations to its replacement."""


@handover.command("export")
@config_option
@click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The old device's database (e.g. on its SD card mounted here).",
)
@click.option(
    "--credential",
    "credential_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The old device's credential file (default: sync.credential_file).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The hand-over file to write (mode 0600: it holds personal data).",
)
def export(
    config_path: Path | None, store_path: Path | None, credential_path: Path | None, out: Path
) -> None:
    """Write the old device's undelivered events, signed by it, to a hand-over file."""
    with reporting():
        config = load_config(
            config_path, missing_ok=store_path is not None and credential_path is not None
        )
        credentials = load_credentials(credential_path or config["sync.credential_file"])
        path = store_path or config["store.database"]
        result = core.export_bundle(
            Path(path),
            credentials,
            exported_at=format_utc(datetime.now(UTC)),
            max_events=config["sync.batch_max_events"],
            max_bytes=config["sync.batch_max_bytes"],
        )
        try:
            write_json_atomic(out, result.doc, mode=0o600)
        except OSError as err:
            raise ConfigError(f"cannot write {out}: {err}", "交接文件无法写入") from err
    click.echo(
        f"exported {result.events} undelivered events of {credentials.device_id} in "
        f"{result.parts} parts to {out}"
    )
    if result.rejected:
        click.echo(
            f"{result.rejected} events the server had rejected are listed in the file "
            "(not sent again)"
        )
    click.echo(
        "the file holds guests' personal data: carry it like the SD card and delete it "
        "after `anju handover import`"
    )


@handover.command("import")
@config_option
@click.argument("bundle_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
def import_(config_path: Path | None, bundle_file: Path) -> None:
    """Deliver a hand-over file's events under the old device's identity (as this device)."""
    with reporting():
        config = load_config(config_path)
        credentials = load_credentials(config["sync.credential_file"])
        try:
            doc = json.loads(bundle_file.read_text("utf-8"))
            with SyncClient(config["sync.server_url"], credentials) as client:
                result = core.import_bundle(doc, client)
        except (OSError, ValueError, SyncError) as err:
            code = getattr(err, "code", None) or type(err).__name__
            click.echo(
                f"error: hand-over failed: {code}: {err}; run it again (what arrived is "
                "answered as a duplicate)",
                err=True,
            )
            sys.exit(EXIT_REFUSED)
    click.echo(
        f"handed over {result.device_id} to {credentials.device_id}: "
        f"{result.accepted} accepted, {result.duplicate} already there, "
        f"{len(result.rejected)} rejected"
    )
    for event_id, code, message in result.rejected:
        click.echo(f"REJECTED {event_id}: {code}: {message}", err=True)
    if result.rejected:
        sys.exit(EXIT_REFUSED)


@click.command()
@config_option
@click.option(
    "--exported",
    "exported",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The hand-over file written from this device: its undelivered events are "
    "in it, so wiping loses none.",
)
@click.option(
    "--offline",
    is_flag=True,
    help="Do not ask the server to revoke this device (the administrator runs "
    "`anju central devices revoke DEVICE`).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def wipe(config_path: Path | None, exported: Path | None, offline: bool, yes: bool) -> None:
    """Decommission: revoke this device, then erase its registrations and credential."""
    with reporting():
        config = load_config(config_path)
        store_path = Path(config["store.database"])
        credential_file: Path = config["sync.credential_file"]
        pending = core.undelivered(store_path) if store_path.exists() else set()
        covered = core.exported_ids(json.loads(exported.read_text("utf-8"))) if exported else set()
        if pending - covered:
            click.echo(
                f"error: {len(pending - covered)} registrations were never delivered: "
                "run `anju sync now`, or `anju handover export` and pass the file with "
                "--exported; nothing was erased",
                err=True,
            )
            sys.exit(EXIT_REFUSED)
        if not yes:
            click.confirm(f"erase {store_path} and the credential of this terminal?", abort=True)
        device = "?"
        if credential_file.exists():
            credentials = load_credentials(credential_file)
            device = credentials.device_id
            if not offline:
                try:
                    with SyncClient(config["sync.server_url"], credentials) as client:
                        revoked = client.decommission()
                except RequestError as err:
                    click.echo(
                        f"error: the server did not revoke {device}: "
                        f"{err.code or type(err).__name__}; nothing was erased (use "
                        "--offline and have the administrator revoke it)",
                        err=True,
                    )
                    sys.exit(EXIT_REFUSED)
                click.echo(f"device {device} revoked by the server at {revoked}")
        erased = core.erase(
            [
                *core.store_files(store_path),
                credential_file,
                credential_file.with_name(credential_file.name + ".installation"),
                config["sync.state_file"],
            ]
        )
    click.echo(
        f"erased {len(erased)} files of device {device} (overwritten, then removed); "
        "on an SD card, destroy the card for certainty (docs/handover.md)"
    )
