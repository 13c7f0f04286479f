"""`anju central purge`: retention (central/stays/retention.py, central/devices/history.py,
docs/operations.md). Its options are the retention's rows of central/settings.py's table."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from central.cli.context import DB_OPTION, admin_engine, command_options, fail
from central.db.bounds import DbBounds
from central.errors import CentralError
from central.settings import RETENTION_ENV


@click.command("purge")
@DB_OPTION
@command_options("purge")
@click.option("--dry-run", is_flag=True, help="Show what would be removed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="The plan as one JSON object.")
def purge(db_url: str, retention_days: int, heartbeat_retention_days: int,
          purge_statement_timeout_s: float, dry_run: bool, as_json: bool) -> None:
    """Remove stays older than the retention, with their guests, events (photos), feed
    records, refused events and day reports: month partitions dropped on PostgreSQL, rows
    deleted on SQLite; heartbeats older than their own retention (each terminal's latest
    kept); expired login sessions. Audited (action purge). Also makes the coming months'
    partitions. Never purged: the audit log (a hash chain kept whole), stay owners, devices."""
    from central.accounts import audit
    from central.accounts.admin import operator
    from central.accounts.principals import dead_sessions
    from central.clock import utc_now
    from central.devices import history
    from central.stays import retention
    from sync.fields import format_utc

    if retention_days < 1:
        raise click.ClickException(
            f"no retention set: pass --retention-days N or set {RETENTION_ENV}")
    # Long statements, bounded; a hung database is found by the watchdog within seconds.
    bounds = DbBounds(statement_timeout_s=purge_statement_timeout_s)
    with admin_engine(db_url, bounds=bounds, watched=True) as engine:
        try:
            with engine.begin() as conn:  # the removal and its audit row: both or neither
                now = utc_now()
                beats_before = format_utc(now - timedelta(days=heartbeat_retention_days))
                if dry_run:
                    done = retention.plan(conn, now, retention_days)
                    done.rows |= history.plan(conn, beats_before, f"{done.keep_from}-01")
                else:
                    done = retention.purge_in(conn, now, retention_days)
                    done.rows |= history.purge_in(conn, beats_before, f"{done.keep_from}-01")
                done.rows["user_sessions"] = dead_sessions(conn, now.timestamp(),
                                                           remove=not dry_run)
                done.heartbeat_retention_days = heartbeat_retention_days
                done.heartbeats_before = beats_before
                if not dry_run:
                    audit.append_in(conn, operator(), retention.ACTION,
                                    f"retention {retention_days} days",
                                    retention.audit_query(done), done.rows["events"])
        except CentralError as err:
            raise fail(err) from err
    if as_json:
        click.echo(json.dumps({"dry_run": dry_run, **done.summary()}, ensure_ascii=False))
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(f"retention {retention_days} days: keeping stays first seen from "
               f"{done.keep_from} on; heartbeats {heartbeat_retention_days} days: keeping "
               f"those received from {beats_before} on (and each terminal's latest)")
    click.echo(f"{verb} months: {', '.join(done.months) or 'none'}")
    if done.partitions:
        click.echo(f"{verb} partitions: {', '.join(done.partitions)}")
    click.echo(f"{verb} rows: " + ", ".join(f"{t} {n}" for t, n in done.rows.items()))
    if done.created:
        click.echo(f"made partitions: {', '.join(done.created)}")
