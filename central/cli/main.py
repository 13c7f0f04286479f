"""`anju central ...`: run the server and administer sites, tokens and devices.

Every command takes `--db URL` (default: $ANJU_CENTRAL_DB, else SQLite in ./var/central.db);
URLs are `sqlite:///path/central.db` or `postgresql+psycopg://user@host:5432/db`. Each says
which database it uses (stderr); none creates the default SQLite file silently (`migrate` or
an explicit URL does, and says so).
"""

from __future__ import annotations

import gc
import logging
from typing import Any

import click

from central.cli import accounts, feed, retention, updates
from central.cli.context import (
    DB_OPTION,
    JSON_OPTION,
    CentralGroup,
    admin_engine,
    check_database,
    fail,
    parse_ttl,
    print_rows,
    settings_options,
)
from central.db.engine import database_exposures, make_engine
from central.errors import CentralError
from central.settings import Settings


@click.group(cls=CentralGroup, context_settings={"help_option_names": ["-h", "--help"]})
def central() -> None:
    """Central server: ingest, enrolment, fleet."""


@central.command()
@settings_options
def serve(**values: Any) -> None:
    """Run the HTTP server (migrates the database first). A database that does not answer
    within the --db-* bounds is answered 503 + Retry-After, never a hung request. Every option
    is a setting of central/settings.py's table."""
    check_database(values["db_url"])
    import uvicorn

    from central.app import create_app

    try:
        settings = Settings(**values)
    except ValueError as err:
        raise click.UsageError(str(err)) from err
    try:
        app = create_app(settings)
    except CentralError as err:
        raise fail(err) from err
    for exposed in database_exposures(settings.db_url):  # created 0600; someone opened it since
        logging.getLogger("central").warning("%s", exposed.message())
    # Modules, tables and the app live as long as the process: the collector's full passes
    # stop walking them again (a few % of ingest's CPU per event, issue 19).
    gc.freeze()
    # Spelled out, not left to uvicorn's defaults: an idle keep-alive connection is closed after
    # 5 s, and a request head larger than 16 KiB is refused 400 before the app sees it.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info",
                access_log=False, timeout_keep_alive=5, h11_max_incomplete_event_size=16 * 1024,
                timeout_graceful_shutdown=10, proxy_headers=True,
                forwarded_allow_ips=settings.forwarded_allow_ips)


@central.command("migrate")
@DB_OPTION
def migrate_command(db_url: str) -> None:
    """Create or upgrade the database schema."""
    from central.migrate import migrate

    check_database(db_url, creating=True)
    engine = make_engine(db_url, pooled=False)
    try:
        before, after = migrate(engine)
    except CentralError as err:
        raise fail(err) from err
    finally:
        engine.dispose()
    click.echo(f"schema at {after}" + (f" (was {before or 'empty'})" if before != after else ""))


@central.group()
def site() -> None:
    """Guesthouses (sites)."""


@site.command("add")
@DB_OPTION
@click.argument("code")
@click.option("--name", required=True, help="The guesthouse's name.")
def site_add(db_url: str, code: str, name: str) -> None:
    """Add a site with its code."""
    from central.devices import enrolment

    with admin_engine(db_url) as engine:
        enrolment.add_site(engine, code, name)
    click.echo(f"site {code} added")


@central.group()
def token() -> None:
    """One-time enrolment tokens."""


@token.command("issue")
@DB_OPTION
@click.option("--site", "site_code", required=True, help="Site the device will write for.")
@click.option("--ttl", default="24h", show_default=True, help="Lifetime: 30m, 24h, 7d ...")
def token_issue(db_url: str, site_code: str, ttl: str) -> None:
    """Print a one-time enrolment token (shown once; only its hash is stored)."""
    from central.devices import enrolment

    lifetime = parse_ttl(ttl, "--ttl")
    with admin_engine(db_url) as engine:
        value, expires = enrolment.issue_token(engine, site_code, lifetime)
    click.echo(value)
    click.echo(f"site {site_code}, expires {expires} (UTC); usable once", err=True)


@central.group()
def devices() -> None:
    """Enrolled devices."""


@devices.command("list")
@DB_OPTION
@JSON_OPTION
def devices_list(db_url: str, as_json: bool) -> None:
    """Devices with last contact, health, why not delivering (sync_state; refused_code: a
    signed request refused since last heard, e.g. bad_signature) and chain state."""
    from central.fleet import list_devices

    with admin_engine(db_url) as engine:
        rows = list_devices(engine)
    print_rows(rows, ("device_id", "site_code", "last_seen_at", "software_version", "backlog",
                      "sync_state", "sync_since", "refused_code", "refused_at", "events_stored",
                      "open_gaps", "chain_breaks", "clock_offset_ms", "last_nil_report",
                      "replaced_by", "revoked_at"), as_json)


@devices.command("revoke")
@DB_OPTION
@click.argument("device_id")
def devices_revoke(db_url: str, device_id: str) -> None:
    """Revoke a device for good (decommissioned, lost or stolen): it can no longer send."""
    from central.clock import utc_now
    from central.devices.handover import revoke
    from sync.fields import format_utc

    with admin_engine(db_url) as engine:
        if not revoke(engine, device_id, format_utc(utc_now())):
            raise click.ClickException(f"unknown device {device_id}")
    click.echo(f"device {device_id} revoked")


@central.command("faults")
@DB_OPTION
@click.option("--device", "device_id", default=None, help="Only this device.")
@click.option("--open", "open_only", is_flag=True, help="Only gaps not filled yet.")
@JSON_OPTION
def faults(db_url: str, device_id: str | None, open_only: bool, as_json: bool) -> None:
    """Sequence gaps and chain breaks recorded on ingest (device, sequence range)."""
    from central.fleet import chain_fault_list

    with admin_engine(db_url) as engine:
        rows = [r for r in chain_fault_list(engine, device_id)
                if not (open_only and (r["kind"] != "gap" or r["resolved_at"]))]
    print_rows(rows, ("device_id", "kind", "first_sequence", "last_sequence", "detected_at",
                      "resolved_at", "detail"), as_json)


central.add_command(accounts.user)
central.add_command(accounts.audit)
central.add_command(feed.feed)
central.add_command(retention.purge)
central.add_command(updates.rollout)
central.add_command(updates.repo)
site.add_command(accounts.site_district)
