"""What every `anju central ...` command shares: the `--db` option, a migrated engine for one
command, the group that turns an unanswering database into a clear error, TTL parsing, and
the table printer. The command modules (main.py, accounts.py, feed.py) import this one and
never each other; main.py assembles the groups."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from sqlalchemy import Engine

from central.db.engine import make_engine
from central.errors import CentralError
from central.settings import DB_ENV, default_db_url

DB_OPTION = click.option("--db", "db_url", envvar=DB_ENV, default=default_db_url,
                         show_default=False,
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
def admin_engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine for one admin command, disposed afterwards."""
    from central.migrate import migrate

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


def fail(err: CentralError) -> click.ClickException:
    return click.ClickException(err.message)


class CentralGroup(click.Group):
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


def print_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    cells = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    if not rows:
        click.echo("(none)")
