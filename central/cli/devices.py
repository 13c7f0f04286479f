"""`anju central site`, `token`, `devices` and `faults`: guesthouses, enrolment tokens and the
terminals that enrolled with them (listed in the `central` group by central/cli/main.py)."""

from __future__ import annotations

import click

from central.cli.context import DB_OPTION, JSON_OPTION, admin_engine, parse_ttl, print_rows
from central.cli.lazy import LazyGroup


@click.group(cls=LazyGroup, lazy={"district": (
    "central.cli.accounts:site_district",
    "Put a site in a district (officers with that district see only such sites).")})
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


@click.group()
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


@click.group()
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


@click.command("faults")
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
