"""`anju central serve` and `anju central migrate`: the HTTP server and its schema (listed in
the `central` group by central/cli/main.py)."""

from __future__ import annotations

import gc
import logging
from typing import Any

import click

from central.cli.context import DB_OPTION, check_database, fail, settings_options
from central.db.engine import database_exposures, make_engine
from central.errors import CentralError
from central.settings import Settings


@click.command()
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


@click.command("migrate")
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
