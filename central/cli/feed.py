"""`anju central feed ...`: feed tokens for police systems, and the reference consumer
(added to the `central` group by central/cli/main.py; docs/feed.md)."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import click

from central.cli.context import (
    DB_OPTION,
    JSON_OPTION,
    admin_engine,
    parse_ttl,
    print_rows,
)

FEED_TOKEN_ENV = "ANJU_FEED_TOKEN"


@click.group()
def feed() -> None:
    """The change feed: stays and their changes in commit order, for police systems."""


@feed.group("token")
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


@feed.command("pull")
@click.option("--url", required=True, help="The central server, e.g. https://central.example")
@click.option(
    "--token",
    envvar=FEED_TOKEN_ENV,
    required=True,
    help=f"The feed token (better: ${FEED_TOKEN_ENV}, kept out of the process list).",
)
@click.option(
    "--state",
    "state_path",
    required=True,
    type=click.Path(path_type=Path),
    help="Where the cursor is kept (written atomically after each durable file).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Directory of the NDJSON files, one per page.",
)
@click.option(
    "--limit",
    default=1000,
    show_default=True,
    type=click.IntRange(1, 10_000),
    help="Records per page (file).",
)
@click.option("--follow", is_flag=True, help="Keep tailing the feed (until SIGTERM/SIGINT).")
@click.option(
    "--interval",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0.05),
    help="Seconds between polls once caught up (with --follow).",
)
def pull(
    url: str, token: str, state_path: Path, out_dir: Path, limit: int, follow: bool, interval: float
) -> None:
    """Pull the feed into OUT as NDJSON files; resumes after any crash without gap or
    duplicate (see docs/feed.md)."""
    from central.feed.consumer import FeedPullError, Puller

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stopping: list[bool] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    puller = Puller(url, token, state_path, out_dir, limit=limit)
    try:
        taken = puller.run(follow=follow, interval_s=interval, stop=lambda: bool(stopping))
    except FeedPullError as err:
        raise click.ClickException(str(err)) from err
    except KeyboardInterrupt:
        taken = -1
    finally:
        puller.close()
    click.echo(
        f"cursor {puller.state.cursor}, page {puller.state.page}"
        + (f", {taken} records taken" if taken >= 0 else ""),
        err=True,
    )
