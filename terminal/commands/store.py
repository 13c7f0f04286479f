"""`anju store init|migrate|downgrade|verify|purge`: the technician's tools for the database."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from terminal.commands.context import (
    EXIT_REFUSED,
    reporting,
    settings,
    store_options,
)
from terminal.store import connection, migrations
from terminal.store import purge as retention
from terminal.store import verify as verifier
from terminal.store.database import Store


@click.group()
def store() -> None:
    """The registry database: create, upgrade, check, purge."""


@store.command()
@store_options
def init(config_path: Path | None, db_path: Path | None) -> None:
    """Create the database (or bring an empty one to the current schema)."""
    with reporting():
        config, path = settings(config_path, db_path)
        Store.from_config(config, path=path, create=True).close()
    click.echo(f"initialised {path} (schema version {migrations.LATEST})")


@store.command()
@store_options
def migrate(config_path: Path | None, db_path: Path | None) -> None:
    """Upgrade the schema; all steps or none, after a backup next to the file."""
    with reporting():
        config, path = settings(config_path, db_path)
        conn = connection.connect(path, readonly=True)
        try:
            before = migrations.schema_version(conn)
        finally:
            conn.close()
        Store.from_config(config, path=path, migrate=True).close()
    if before == migrations.LATEST:
        click.echo(f"{path}: already at schema version {before}")
    elif before > migrations.LATEST:
        click.echo(f"{path}: schema version {before} is newer than this program's "
                   f"{migrations.LATEST} and compatible with it; left as it is")
    else:
        click.echo(f"{path}: migrated from schema version {before} to {migrations.LATEST} "
                   f"(backup: {path.name}.v{before}.bak)")


@store.command()
@store_options
@click.option("--to", "target", type=click.IntRange(min=1), required=True,
              help="The schema version of the program to go back to.")
def downgrade(config_path: Path | None, db_path: Path | None, target: int) -> None:
    """Undo migrations above --to, keeping every event (run with the newer program, stopped
    services, before installing an older release that refuses this schema)."""
    with reporting():
        _config, path = settings(config_path, db_path)
        conn = connection.connect(path)
        try:
            before = migrations.schema_version(conn)
            backup = migrations.backup(conn, path) if before > target else None
            undone = migrations.downgrade(conn, target)
        finally:
            conn.close()
    if not undone:
        click.echo(f"{path}: already at schema version {before}")
    else:
        click.echo(f"{path}: downgraded from schema version {before} to {target}, every event "
                   f"kept (backup: {backup.name if backup else '-'})")


@store.command()
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(config_path: Path | None, db_path: Path | None, as_json: bool) -> None:
    """Check schema, integrity, every hash, sequence and the projection; exit 1 on any fault."""
    with reporting():
        _config, path = settings(config_path, db_path)
        faults, events = verifier.verify_file(path)
    if as_json:
        click.echo(json.dumps({"ok": not faults, "events": events, "faults": [
            {"code": f.code, "event_id": f.event_id, "sequence": f.sequence,
             "stay_id": f.stay_id, "message": f.message} for f in faults]}))
    elif faults:
        for fault in faults:
            click.echo(f"FAULT {fault}", err=True)
    else:
        click.echo(f"ok: {events} events, schema, integrity, chain and projection verified")
    if faults:
        sys.exit(EXIT_REFUSED)


@store.command()
@store_options
@click.option("--retention-days", type=click.IntRange(min=0),
              help="Override store.retention_days.")
@click.option("--now", "now_text", help="Pretend it is this UTC time (ISO 8601), for tests.")
def purge(config_path: Path | None, db_path: Path | None, retention_days: int | None,
          now_text: str | None) -> None:
    """Purge personal data of stays over and delivered for longer than the retention."""
    with reporting():
        config, path = settings(config_path, db_path)
        days = retention_days if retention_days is not None else config["store.retention_days"]
        now = datetime.fromisoformat(now_text) if now_text else datetime.now(UTC)
        with Store.from_config(config, path=path) as opened:
            result = retention.purge(opened, retention_days=days,
                                     now=now if now.tzinfo else now.replace(tzinfo=UTC))
    click.echo(f"purged {result.stays} stays ({result.events} events, "
               f"{result.payload_bytes} bytes), retention {days} days")
