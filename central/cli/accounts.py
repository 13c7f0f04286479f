"""`anju central user ...`, `anju central audit ...`, `anju central site district`: police
accounts and the audit log from the command line (listed in the `central` group by
central/cli/main.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import click

from central.cli.context import (
    DB_OPTION,
    JSON_OPTION,
    admin_engine,
    print_rows,
    setting_option,
)

_ROLES = click.Choice(["officer", "supervisor", "technician", "administrator"])


@click.group()
def user() -> None:
    """Police users (officer, supervisor, technician, administrator) and their API tokens.

    Every change is written to the audit log as done by `cli:<your login>` (role operator):
    whoever can run these commands holds the database, so no rank or district limits them,
    unlike /users (see docs/police.md)."""


def _admin_call(db_url: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    from central.accounts import admin

    with admin_engine(db_url) as engine:
        return fn(engine, *args, by=admin.operator(), **kwargs)


@user.command("add")
@DB_OPTION
@click.argument("name")
@click.option("--role", type=_ROLES, required=True)
@click.option("--district", default=None, help="Only the sites of this district (and, for a "
              "supervisor or administrator, only the users of this district).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input "
              "instead of generating one.")
def user_add(db_url: str, name: str, role: str, district: str | None,
             password_stdin: bool) -> None:
    """Add a user; prints the generated password once. Audited (user_add)."""
    from central.accounts import admin

    password = click.get_text_stream("stdin").readline().strip() if password_stdin else None
    password = _admin_call(db_url, admin.add_user, name, role, password, district)
    if not password_stdin:
        click.echo(f"password for {name} (shown once): {password}")
    click.echo(f"user {name} added ({role}{', ' + district if district else ''})", err=True)


@user.command("set")
@DB_OPTION
@click.argument("name")
@click.option("--role", type=_ROLES, default=None, help="The new role.")
@click.option("--district", default=None, help="The new district.")
@click.option("--no-district", is_flag=True, help="Remove the district: the user sees (and, "
              "as a supervisor or administrator, manages) every district.")
def user_set(db_url: str, name: str, role: str | None, district: str | None,
             no_district: bool) -> None:
    """Change a user's role and/or district; takes effect at the user's next request (sessions
    and API tokens included). Audited (user_change)."""
    from central.accounts import admin

    if district is not None and no_district:
        raise click.UsageError("--district and --no-district exclude each other")
    changes: dict[str, Any] = {"role": role}
    if district is not None or no_district:
        changes["district"] = None if no_district else district
    _admin_call(db_url, admin.change_user, name, **changes)
    click.echo(f"user {name} updated")


@user.command("list")
@DB_OPTION
@JSON_OPTION
def user_list(db_url: str, as_json: bool) -> None:
    """Users with role, district, state and their number of live API tokens."""
    from central.accounts import admin

    keep = ("username", "role", "district", "disabled", "created_at", "password_set_at")
    rows = [{**{k: r[k] for k in keep}, "live_tokens": len(r["tokens"])}
            for r in _admin_call(db_url, admin.list_users)]
    print_rows(rows, ("username", "role", "district", "disabled", "password_set_at",
                      "live_tokens"), as_json)


@user.command("disable")
@DB_OPTION
@click.argument("name")
def user_disable(db_url: str, name: str) -> None:
    """Disable a user: sessions end, every API token is revoked (enabling the user again
    revives none). Audited (user_disable)."""
    from central.accounts import admin

    _admin_call(db_url, admin.set_disabled, name, True)
    click.echo(f"user {name} disabled; sessions ended, API tokens revoked")


@user.command("enable")
@DB_OPTION
@click.argument("name")
def user_enable(db_url: str, name: str) -> None:
    """Enable a disabled user again (tokens revoked on disable stay revoked). Audited."""
    from central.accounts import admin

    _admin_call(db_url, admin.set_disabled, name, False)
    click.echo(f"user {name} enabled")


@user.command("reset")
@DB_OPTION
@click.argument("name")
def user_reset(db_url: str, name: str) -> None:
    """Set a new generated password (printed once); the user's sessions end and API tokens
    are revoked. Audited (user_reset)."""
    from central.accounts import admin

    password = _admin_call(db_url, admin.reset_password, name)
    click.echo(f"new password for {name} (shown once): {password}")


@user.command("unlock")
@DB_OPTION
@click.argument("name")
def user_unlock(db_url: str, name: str) -> None:
    """Lift a login lock: forget the user's failed logins (its address counts stay). Audited."""
    from central.accounts import admin

    had = _admin_call(db_url, admin.unlock_login, name)
    click.echo(f"user {name} unlocked" if had else f"user {name} had no failed logins")


@user.command("api-token")
@DB_OPTION
@click.argument("name")
@setting_option("api_token_ttl_s", "--ttl")  # the server's setting, read the same way
def user_api_token(db_url: str, name: str, api_token_ttl_s: int) -> None:
    """Print a new bearer API token for the user (shown once; only its SHA-256 is stored).
    Audited (token_issue) with the token's id."""
    from central.accounts import admin

    value, row = _admin_call(db_url, admin.issue_api_token, name,
                             ttl=timedelta(seconds=api_token_ttl_s))
    click.echo(value)
    click.echo(f"token {row['id']} for {name}, expires {row['expires_at']} (UTC)", err=True)


@user.command("tokens")
@DB_OPTION
@click.argument("name", required=False)
@click.option("--all", "show_all", is_flag=True, help="Expired and revoked tokens too.")
@JSON_OPTION
def user_tokens(db_url: str, name: str | None, show_all: bool, as_json: bool) -> None:
    """API tokens (of one user, or of all): id, created, expires, state (never the token)."""
    from central.accounts import api_tokens

    with admin_engine(db_url) as engine:
        rows = api_tokens.list_tokens(engine, [name] if name else None, live_only=not show_all)
    print_rows(rows, ("id", "username", "created_at", "expires_at", "state", "revoked_at",
                      "revoked_reason"), as_json)


@user.command("revoke-token")
@DB_OPTION
@click.argument("name")
@click.argument("token_id")
def user_revoke_token(db_url: str, name: str, token_id: str) -> None:
    """Revoke one API token of the user, by the id `anju central user tokens` shows. Audited
    (token_revoke)."""
    from central.accounts import admin

    _admin_call(db_url, admin.revoke_api_token, name, token_id)
    click.echo(f"token {token_id} of {name} revoked")


@click.command("district")
@DB_OPTION
@click.argument("code")
@click.argument("district")
def site_district(db_url: str, code: str, district: str) -> None:
    """Put a site in a district (officers with that district see only such sites)."""
    from central.accounts import principals

    with admin_engine(db_url) as engine:
        principals.set_site_district(engine, code, district)
    click.echo(f"site {code} in district {district}")


@click.group()
def audit() -> None:
    """The audit log of searches, views, exports and account changes."""


@audit.command("list")
@DB_OPTION
@JSON_OPTION
@click.option("--limit", default=100, show_default=True, type=int)
@click.option("--user", "username", default=None, help="Only this user's acts.")
def audit_list(db_url: str, as_json: bool, limit: int, username: str | None) -> None:
    """The newest audit rows (who, when, action, reason, query, result count)."""
    from central.accounts import audit as audit_log

    with admin_engine(db_url) as engine:
        rows = audit_log.rows(engine, limit=limit, username=username)
    print_rows(rows, ("id", "at", "username", "role", "action", "reason", "query",
                      "result_count"), as_json)


@audit.command("verify")
@DB_OPTION
def audit_verify(db_url: str) -> None:
    """Check the audit log's hash chain; exit 1 at the first broken row."""
    from central.accounts import audit as audit_log

    with admin_engine(db_url) as engine:
        report = audit_log.verify(engine)
    if not report.ok:
        raise click.ClickException(f"audit chain broken at row {report.first_bad_id} "
                                   f"({report.rows} rows verify before it)")
    click.echo(f"audit chain verifies: {report.rows} rows")
