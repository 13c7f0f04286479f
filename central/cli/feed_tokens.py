"""`anju central feed token ...`: feed tokens for police systems (listed in the `feed` group
by central/cli/feed.py; docs/feed.md)."""

from __future__ import annotations

import click

from central.cli.context import (
    DB_OPTION,
    JSON_OPTION,
    admin_engine,
    parse_ttl,
    print_rows,
)


@click.group("token")
def feed_token() -> None:
    """Feed tokens (one per consuming system; not usable for search). Audited."""


@feed_token.command("issue")
@DB_OPTION
@click.argument("system")
@click.option(
    "--district",
    "districts",
    multiple=True,
    help="Only stays of sites in this district (repeat for several); none: all.",
)
@click.option("--ttl", default="90d", show_default=True, help="Lifetime, 1m to 366d.")
@click.option(
    "--rate",
    default=120,
    show_default=True,
    type=int,
    help="Pages per minute before 429 + Retry-After.",
)
def token_issue(db_url: str, system: str, districts: tuple[str, ...], ttl: str, rate: int) -> None:
    """Print a new feed token for SYSTEM, shown once (its id on stderr). Audited (feed_issue)."""
    from central.accounts import admin
    from central.feed import tokens

    with admin_engine(db_url) as engine:
        value, row = tokens.issue(
            engine,
            system,
            by=admin.operator(),
            districts=districts,
            ttl=parse_ttl(ttl, "--ttl"),
            rate_per_minute=rate,
        )
    click.echo(value)
    click.echo(
        f"feed token {row['id']} for {system}, districts "
        f"{','.join(row['districts'] or ['all'])}, expires {row['expires_at']} (UTC)",
        err=True,
    )


@feed_token.command("list")
@DB_OPTION
@click.option("--all", "show_all", is_flag=True, help="Expired and revoked tokens too.")
@JSON_OPTION
def token_list(db_url: str, show_all: bool, as_json: bool) -> None:
    """Feed tokens: id, system, districts, expiry, rate, state, last use (never the token)."""
    from central.feed import tokens

    with admin_engine(db_url) as engine:
        rows = tokens.list_tokens(engine, live_only=not show_all)
    print_rows(rows, ("id", "system", "districts", "expires_at", "rate_per_minute", "state",
                      "last_used_at"), as_json)


@feed_token.command("revoke")
@DB_OPTION
@click.argument("token_id")
def token_revoke(db_url: str, token_id: str) -> None:
    """Revoke a feed token by its id. Audited (feed_revoke)."""
    from central.accounts import admin
    from central.feed import tokens

    with admin_engine(db_url) as engine:
        tokens.revoke(engine, token_id, by=admin.operator())
    click.echo(f"feed token {token_id} revoked")
