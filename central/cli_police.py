"""`anju central user ...`, `anju central audit ...`, `anju central site district`: police
accounts and the audit log from the command line (registered on the `central` group)."""

from __future__ import annotations

import json

import click

from central.cli import _DB, _engine, _table, central, site

_ROLES = click.Choice(["officer", "supervisor", "technician", "administrator"])


@central.group()
def user() -> None:
    """Police users (officer, supervisor, technician, administrator)."""


@user.command("add")
@_DB
@click.argument("name")
@click.option("--role", type=_ROLES, required=True)
@click.option("--district", default=None, help="Officers: only the sites of this district.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input "
              "instead of generating one.")
def user_add(db_url: str, name: str, role: str, district: str | None,
             password_stdin: bool) -> None:
    """Add a user; prints the generated password once."""
    from central import accounts

    password = click.get_text_stream("stdin").readline().strip() if password_stdin else None
    with _engine(db_url) as engine:
        password = accounts.add_user(engine, name, role, password, district)
    if not password_stdin:
        click.echo(password)
    click.echo(f"user {name} added ({role}{', ' + district if district else ''})", err=True)


@user.command("disable")
@_DB
@click.argument("name")
def user_disable(db_url: str, name: str) -> None:
    """Disable a user: sessions end, API tokens stop working."""
    from central import accounts

    with _engine(db_url) as engine:
        accounts.set_disabled(engine, name, True)
    click.echo(f"user {name} disabled")


@user.command("enable")
@_DB
@click.argument("name")
def user_enable(db_url: str, name: str) -> None:
    """Enable a disabled user again."""
    from central import accounts

    with _engine(db_url) as engine:
        accounts.set_disabled(engine, name, False)
    click.echo(f"user {name} enabled")


@user.command("reset")
@_DB
@click.argument("name")
def user_reset(db_url: str, name: str) -> None:
    """Set a new generated password (printed once); the user's sessions end."""
    from central import accounts

    with _engine(db_url) as engine:
        password = accounts.reset_password(engine, name)
    click.echo(password)


@user.command("unlock")
@_DB
@click.argument("name")
def user_unlock(db_url: str, name: str) -> None:
    """Lift a login lock: forget the user's failed logins (its address counts stay)."""
    from central import accounts

    with _engine(db_url) as engine:
        had = accounts.unlock_login(engine, name)
    click.echo(f"user {name} unlocked" if had else f"user {name} had no failed logins")


@user.command("api-token")
@_DB
@click.argument("name")
def user_api_token(db_url: str, name: str) -> None:
    """Print a new bearer API token for the user (shown once; only its hash is stored)."""
    from central import accounts

    with _engine(db_url) as engine:
        value = accounts.issue_api_token(engine, name)
    click.echo(value)


@site.command("district")
@_DB
@click.argument("code")
@click.argument("district")
def site_district(db_url: str, code: str, district: str) -> None:
    """Put a site in a district (officers with that district see only such sites)."""
    from central import accounts

    with _engine(db_url) as engine:
        accounts.set_site_district(engine, code, district)
    click.echo(f"site {code} in district {district}")


@central.group()
def audit() -> None:
    """The audit log of searches, views and exports."""


@audit.command("list")
@_DB
@click.option("--json", "as_json", is_flag=True, help="JSON lines instead of a table.")
@click.option("--limit", default=100, show_default=True, type=int)
@click.option("--user", "username", default=None, help="Only this user's acts.")
def audit_list(db_url: str, as_json: bool, limit: int, username: str | None) -> None:
    """The newest audit rows (who, when, action, reason, query, result count)."""
    from central.police import audit as audit_log

    with _engine(db_url) as engine:
        rows = audit_log.rows(engine, limit=limit, username=username)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    _table(rows, ("id", "at", "username", "role", "action", "reason", "query", "result_count"))


@audit.command("verify")
@_DB
def audit_verify(db_url: str) -> None:
    """Check the audit log's hash chain; exit 1 at the first broken row."""
    from central.police import audit as audit_log

    with _engine(db_url) as engine:
        report = audit_log.verify(engine)
    if not report.ok:
        raise click.ClickException(f"audit chain broken at row {report.first_bad_id} "
                                   f"({report.rows} rows verify before it)")
    click.echo(f"audit chain verifies: {report.rows} rows")
