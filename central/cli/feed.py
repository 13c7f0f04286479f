"""`anju central feed ...`: the reference consumer, and feed tokens for police systems by name
(central/cli/feed_tokens.py; listed in the `central` group by central/cli/main.py; docs/feed.md).

A police system runs `feed pull` on a host of its own, often from a timer: it loads HTTP and
file code only, not SQLAlchemy nor the settings table (0.1 s of CPU to start, not 0.5 s)."""

from __future__ import annotations

import logging
import signal
from pathlib import Path

import click

from central.cli.lazy import LazyGroup

FEED_TOKEN_ENV = "ANJU_FEED_TOKEN"


@click.group(cls=LazyGroup, lazy={"token": (
    "central.cli.feed_tokens:feed_token",
    "Feed tokens (one per consuming system; not usable for search).")})
def feed() -> None:
    """The change feed: stays and their changes in commit order, for police systems."""


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
