"""`anju central purge`: retention (central/stays/retention.py, docs/operations.md)."""

from __future__ import annotations

import json

import click

from central.cli.context import DB_OPTION, admin_engine, fail
from central.errors import CentralError
from central.settings import RETENTION_ENV


@click.command("purge")
@DB_OPTION
@click.option("--retention-days", envvar=RETENTION_ENV, type=click.IntRange(min=0),
              default=0,
              help=f"Keep stays first seen within this many days (rounded to whole months, up); "
                   f"default ${RETENTION_ENV}. Required: there is no built-in retention.")
@click.option("--dry-run", is_flag=True, help="Show what would be removed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="The plan as one JSON object.")
def purge(db_url: str, retention_days: int, dry_run: bool, as_json: bool) -> None:
    """Remove stays older than the retention, with their guests, events (photos), feed
    records and refused events: month partitions dropped on PostgreSQL, rows deleted on
    SQLite; audited (action purge). Also makes the coming months' partitions."""
    from central.accounts import audit
    from central.accounts.admin import operator
    from central.clock import utc_now
    from central.stays import retention

    if retention_days < 1:
        raise click.ClickException(
            f"no retention set: pass --retention-days N or set {RETENTION_ENV}")
    with admin_engine(db_url) as engine:
        try:
            with engine.begin() as conn:  # the removal and its audit row: both or neither
                now = utc_now()
                if dry_run:
                    done = retention.plan(conn, now, retention_days)
                else:
                    done = retention.purge_in(conn, now, retention_days)
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
               f"{done.keep_from} on")
    click.echo(f"{verb} months: {', '.join(done.months) or 'none'}")
    if done.partitions:
        click.echo(f"{verb} partitions: {', '.join(done.partitions)}")
    click.echo(f"{verb} rows: " + ", ".join(f"{t} {n}" for t, n in done.rows.items()))
    if done.created:
        click.echo(f"made partitions: {', '.join(done.created)}")


