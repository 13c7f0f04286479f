"""`anju central ...`: run the server and administer sites, tokens and devices.

Every command takes `--db URL` (default: $ANJU_CENTRAL_DB, else SQLite in ./var/central.db);
URLs are `sqlite:///path/central.db` or `postgresql+psycopg://user@host:5432/db`. Each says
which database it uses (stderr); none creates the default SQLite file silently (`migrate` or
an explicit URL does, and says so).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from sqlalchemy import Engine

from central.db.engine import database_exposures, make_engine
from central.errors import CentralError
from central.settings import (
    DB_ENV,
    PHOTO_LIBRARY_ENV,
    PHOTO_LICENCE_ENV,
    READ_DB_ENV,
    RETENTION_ENV,
    TOKEN_TTL_ENV,
    Settings,
    default_db_url,
)

_DB = click.option("--db", "db_url", envvar=DB_ENV, default=default_db_url, show_default=False,
                   help=f"Database URL (default: ${DB_ENV}, else sqlite:///var/central.db).")
_TTL_RE = re.compile(r"^(\d+)([smhd])$")


def check_database(db_url: str, *, creating: bool = False) -> None:
    """Say which database a command uses (on stderr), and refuse to create a new SQLite file
    silently: `anju central user add` run without --db once made a fresh ./var/central.db
    beside the demo's database, and the user it added could not log in to the demo.

    A missing SQLite file is created only when the URL was given (--db or $ANJU_CENTRAL_DB),
    or by `migrate` (`creating`), and the path is printed; the built-in default is never
    created behind the user's back."""
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    click.echo(f"database: {url.render_as_string(hide_password=True)}", err=True)
    path = url.database if url.get_backend_name() == "sqlite" else None
    if not path or path == ":memory:" or Path(path).exists():
        return
    context = click.get_current_context(silent=True)
    source = context.get_parameter_source("db_url") if context else None
    if source in (None, ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP) and not creating:
        raise click.ClickException(
            f"no central database at {path}. Pass --db URL or set {DB_ENV} (`anju demo` "
            f"prints its URL), or create this one with `anju central migrate --db "
            f"sqlite:///{path}`.")
    click.echo(f"creating a new SQLite database at {path}", err=True)


@contextmanager
def _engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine for one admin command, disposed afterwards."""
    from central.db.migrate import migrate

    check_database(db_url)
    engine = make_engine(db_url, pooled=False)
    try:
        migrate(engine)
        yield engine
    except CentralError as err:
        raise click.ClickException(err.message) from err
    finally:
        engine.dispose()


def parse_ttl(value: str, option: str) -> timedelta:
    """`30m`, `24h`, `90d` ... as a timedelta, or a usage error naming the option."""
    match = _TTL_RE.match(value.strip())
    if not match:
        raise click.BadParameter("use a number and s, m, h or d, e.g. 24h", param_hint=option)
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: int(match.group(1))})


def _fail(err: CentralError) -> click.ClickException:
    return click.ClickException(err.message)


class _CentralGroup(click.Group):
    """A database that does not answer in time ends any command with a clear error, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from sqlalchemy.exc import SQLAlchemyError

        from central.db.failures import is_unavailable, unavailable

        try:
            return super().invoke(ctx)
        except SQLAlchemyError as err:
            if not is_unavailable(err):
                raise
            raise click.ClickException(unavailable(err, 0).message.replace(
                "retry later", "is it running and reachable? (--db)")) from err


@click.group(cls=_CentralGroup, context_settings={"help_option_names": ["-h", "--help"]})
def central() -> None:
    """Central server: ingest, enrolment, fleet."""


@central.command()
@_DB
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8600, show_default=True, type=int)
@click.option("--max-in-flight", default=64, show_default=True, type=int,
              help="Concurrent requests before answering 503 + Retry-After.")
@click.option("--retry-after", default=5, show_default=True, type=int,
              help="Base Retry-After seconds when shedding load (jittered up to 2x).")
@click.option("--max-body", default=None, type=int, help="Largest request body in bytes.")
@click.option("--body-timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds a request's whole body may take to arrive; slower: 408, closed.")
@click.option("--accept-legacy-signing", is_flag=True,
              help="Also accept signed requests without X-Anju-Body-SHA256 (terminals from "
                   "before it), reading their body before authenticating: for a transition.")
@click.option("--max-events", default=None, type=int, help="Most events in one batch.")
@click.option("--silent-after", default=1800, show_default=True, type=int,
              help="Fleet page: seconds without a heartbeat before a terminal counts as silent.")
@click.option("--photo-library", envvar=PHOTO_LIBRARY_ENV, default=None,
              type=click.Path(exists=True, dir_okay=False, resolve_path=True),
              help="The reader vendor's WLT photo decoder library (.so); unset: the stay page "
                   f"says 未配置照片解码 (default: ${PHOTO_LIBRARY_ENV}).")
@click.option("--photo-licence-code", envvar=PHOTO_LICENCE_ENV, default=0, show_default=True,
              type=click.IntRange(min=0), help="The vendor's per-customer code passed to the "
              f"photo decoder (default: ${PHOTO_LICENCE_ENV}).")
@click.option("--login-attempts", default=5, show_default=True, type=int,
              help="Failed logins per username within --login-window before a lock.")
@click.option("--login-address-attempts", default=30, show_default=True, type=int,
              help="Failed logins per client address within --login-window before a lock.")
@click.option("--login-window", default=900, show_default=True, type=int,
              help="Seconds over which failed logins are counted.")
@click.option("--login-lockout", default=300, show_default=True, type=int,
              help="Seconds of the first login lock; each further lock doubles it ...")
@click.option("--login-lockout-max", default=3600, show_default=True, type=int,
              help="... up to this many seconds.")
@click.option("--forwarded-allow-ips", default=None,
              help="Reverse proxies trusted for X-Forwarded-For (the client address that login "
                   "throttling counts); default $FORWARDED_ALLOW_IPS, else 127.0.0.1.")
@click.option("--read-db", "read_db_url", envvar=READ_DB_ENV, default="",
              help="A PostgreSQL standby that police searches run on (pages say how fresh its "
                   f"data is); audit rows still go to --db (default: ${READ_DB_ENV}).")
@click.option("--read-db-stale-after", default=5.0, show_default=True,
              type=click.FloatRange(min=0), help="Seconds behind the primary from which the "
              "search page warns that the standby's data is not current.")
@click.option("--db-connect-timeout", default=3, show_default=True, type=click.IntRange(min=2),
              help="Seconds to connect to PostgreSQL, per host of a multi-host URL.")
@click.option("--db-statement-timeout", default=10.0, show_default=True,
              type=click.FloatRange(min=0), help="PostgreSQL statement_timeout in seconds; the "
              "server gives up waiting 2 s later (a hung database); 0 = no limit.")
@click.option("--db-lock-timeout", default=5.0, show_default=True, type=click.FloatRange(min=0),
              help="PostgreSQL lock_timeout in seconds (a row or advisory lock).")
@click.option("--db-pool-timeout", default=3.0, show_default=True,
              type=click.FloatRange(min=0.1), help="Seconds to wait for a pooled connection.")
@click.option("--api-token-ttl", envvar=TOKEN_TTL_ENV, default="90d", show_default=True,
              help="Lifetime of an API token an administrator issues on /users (1m to 366d; "
                   f"default ${TOKEN_TTL_ENV}, else 90d).")
@click.option("--reason-min-chars", envvar="ANJU_CENTRAL_REASON_MIN_CHARS", default=4,
              show_default=True, type=int,
              help="A search/view/export reason needs at least this many characters "
                   "(refuses placeholders like 核查).")
@click.option("--reason-pattern", envvar="ANJU_CENTRAL_REASON_PATTERN", default="",
              help="A regular expression every reason must contain, e.g. a case number "
                   r"format such as '[A-Z]\d{4}-\d+' (default: none).")
def serve(db_url: str, host: str, port: int, max_in_flight: int, retry_after: int,
          max_body: int | None, body_timeout: float, accept_legacy_signing: bool,
          max_events: int | None, silent_after: int, login_attempts: int,
          login_address_attempts: int, login_window: int, login_lockout: int,
          login_lockout_max: int, forwarded_allow_ips: str | None, api_token_ttl: str,
          photo_library: str | None, photo_licence_code: int, reason_min_chars: int,
          reason_pattern: str, read_db_url: str, read_db_stale_after: float,
          db_connect_timeout: int, db_statement_timeout: float, db_lock_timeout: float,
          db_pool_timeout: float) -> None:
    """Run the HTTP server (migrates the database first). A database that does not answer
    within the --db-* bounds is answered 503 + Retry-After, never a hung request."""
    import dataclasses

    check_database(db_url)
    import uvicorn

    from central.app import create_app

    limits = Settings().limits
    limits = dataclasses.replace(limits, **{k: v for k, v in (
        ("max_body_bytes", max_body), ("max_events", max_events)) if v is not None})
    try:
        settings = Settings(db_url=db_url, max_in_flight=max_in_flight, retry_after_s=retry_after,
                            limits=limits, silent_after_s=silent_after,
                            body_timeout_s=body_timeout,
                            accept_legacy_signing=accept_legacy_signing,
                            login_user_limit=login_attempts,
                            login_address_limit=login_address_attempts,
                            login_window_s=login_window, login_lockout_s=login_lockout,
                            login_max_lockout_s=login_lockout_max,
                            api_token_ttl_s=int(parse_ttl(api_token_ttl,
                                                          "--api-token-ttl").total_seconds()),
                            reason_min_chars=reason_min_chars, reason_pattern=reason_pattern,
                            db_connect_timeout_s=db_connect_timeout,
                            db_statement_timeout_s=db_statement_timeout,
                            db_lock_timeout_s=db_lock_timeout, db_pool_timeout_s=db_pool_timeout,
                            read_db_url=read_db_url,
                            read_db_stale_after_s=read_db_stale_after)
    except ValueError as err:
        raise click.UsageError(str(err)) from err
    settings = dataclasses.replace(settings, photo_library=photo_library or "",
                                   photo_licence_code=photo_licence_code)
    try:
        app = create_app(settings)
    except CentralError as err:
        raise _fail(err) from err
    for exposed in database_exposures(db_url):  # created 0600; someone opened it since
        logging.getLogger("central").warning("%s", exposed.message())
    # Spelled out, not left to uvicorn's defaults: an idle keep-alive connection is closed after
    # 5 s, and a request head larger than 16 KiB is refused 400 before the app sees it.
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False,
                timeout_keep_alive=5, h11_max_incomplete_event_size=16 * 1024,
                timeout_graceful_shutdown=10, proxy_headers=True,
                forwarded_allow_ips=forwarded_allow_ips)


@central.command("migrate")
@_DB
def migrate_command(db_url: str) -> None:
    """Create or upgrade the database schema."""
    from central.db.migrate import migrate

    check_database(db_url, creating=True)
    engine = make_engine(db_url, pooled=False)
    try:
        before, after = migrate(engine)
    except CentralError as err:
        raise _fail(err) from err
    finally:
        engine.dispose()
    click.echo(f"schema at {after}" + (f" (was {before or 'empty'})" if before != after else ""))


@central.group()
def site() -> None:
    """Guesthouses (sites)."""


@site.command("add")
@_DB
@click.argument("code")
@click.option("--name", required=True, help="The guesthouse's name.")
def site_add(db_url: str, code: str, name: str) -> None:
    """Add a site with its code."""
    from central import enrol

    with _engine(db_url) as engine:
        enrol.add_site(engine, code, name)
    click.echo(f"site {code} added")


@central.group()
def token() -> None:
    """One-time enrolment tokens."""


@token.command("issue")
@_DB
@click.option("--site", "site_code", required=True, help="Site the device will write for.")
@click.option("--ttl", default="24h", show_default=True, help="Lifetime: 30m, 24h, 7d ...")
def token_issue(db_url: str, site_code: str, ttl: str) -> None:
    """Print a one-time enrolment token (shown once; only its hash is stored)."""
    from central import enrol

    lifetime = parse_ttl(ttl, "--ttl")
    with _engine(db_url) as engine:
        value, expires = enrol.issue_token(engine, site_code, lifetime)
    click.echo(value)
    click.echo(f"site {site_code}, expires {expires} (UTC); usable once", err=True)


@central.group()
def devices() -> None:
    """Enrolled devices."""


@devices.command("list")
@_DB
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
def devices_list(db_url: str, as_json: bool) -> None:
    """Devices with last contact, health and chain state."""
    from central.fleet import list_devices

    with _engine(db_url) as engine:
        rows = list_devices(engine)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    columns = ("device_id", "site_code", "last_seen_at", "software_version", "backlog",
               "events_stored", "open_gaps", "chain_breaks", "clock_offset_ms", "last_nil_report",
               "replaced_by", "revoked_at")
    _table(rows, columns)


@devices.command("revoke")
@_DB
@click.argument("device_id")
def devices_revoke(db_url: str, device_id: str) -> None:
    """Revoke a device for good (decommissioned, lost or stolen): it can no longer send."""
    from central.handover import revoke
    from central.timefix import format_utc, utc_now

    with _engine(db_url) as engine:
        if not revoke(engine, device_id, format_utc(utc_now())):
            raise click.ClickException(f"unknown device {device_id}")
    click.echo(f"device {device_id} revoked")


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    cells = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    if not rows:
        click.echo("(none)")


@central.command("faults")
@_DB
@click.option("--device", "device_id", default=None, help="Only this device.")
@click.option("--open", "open_only", is_flag=True, help="Only gaps not filled yet.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
def faults(db_url: str, device_id: str | None, open_only: bool, as_json: bool) -> None:
    """Sequence gaps and chain breaks recorded on ingest (device, sequence range)."""
    from central.fleet import chain_fault_list

    with _engine(db_url) as engine:
        rows = [r for r in chain_fault_list(engine, device_id)
                if not (open_only and (r["kind"] != "gap" or r["resolved_at"]))]
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    _table(rows, ("device_id", "kind", "first_sequence", "last_sequence", "detected_at",
                  "resolved_at", "detail"))


@central.command("purge")
@_DB
@click.option("--retention-days", envvar=RETENTION_ENV, type=click.IntRange(min=0),
              default=lambda: Settings().retention_days,
              help=f"Keep stays first seen within this many days (rounded to whole months, up); "
                   f"default ${RETENTION_ENV}. Required: there is no built-in retention.")
@click.option("--dry-run", is_flag=True, help="Show what would be removed; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="The plan as one JSON object.")
def purge(db_url: str, retention_days: int, dry_run: bool, as_json: bool) -> None:
    """Remove stays older than the retention, with their guests, events (photos), feed
    records and refused events: month partitions dropped on PostgreSQL, rows deleted on
    SQLite; audited (action purge). Also makes the coming months' partitions."""
    from central import retention
    from central.timefix import utc_now

    if retention_days < 1:
        raise click.ClickException(
            f"no retention set: pass --retention-days N or set {RETENTION_ENV}")
    with _engine(db_url) as engine:
        try:
            done = retention.purge(engine, utc_now(), retention_days, dry_run=dry_run)
        except CentralError as err:
            raise _fail(err) from err
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


from central import cli_feed, cli_police  # noqa: E402, F401  (register feed, user, audit ...)
