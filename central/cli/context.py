"""What every `anju central ...` command shares: the options generated from the settings table
(central/settings.py: `--db` for every command, all of them for `serve`), a migrated engine for
one command, TTL parsing, and the table printer. The command modules (server.py, devices.py,
accounts.py, feed_tokens.py ...) import this one and never each other; main.py names them."""

from __future__ import annotations

import dataclasses
import json
import re
import typing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource
from sqlalchemy import Engine

from central.db.bounds import DbBounds
from central.db.engine import is_sqlite, make_engine
from central.errors import CentralError
from central.settings import DB_ENV, Option, Settings

F = TypeVar("F", bound=Callable[..., Any])
_TTL_RE = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
SETTINGS = {row.name: row for row in dataclasses.fields(Settings)}


class Duration(click.ParamType):
    """A lifetime written `30m`, `24h`, `90d` ..., as whole seconds."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> int:
        if isinstance(value, int):
            return value
        match = _TTL_RE.match(str(value).strip())
        if not match:
            self.fail("use a number and s, m, h or d, e.g. 24h", param, ctx)
        return int(match.group(1)) * _UNITS[match.group(2)]


class ExistingFile(click.ParamType):
    """The path of a file that exists, made absolute; empty stays empty (the setting is off)."""

    name = "file"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None
                ) -> str:
        if not value:
            return ""
        path = click.Path(exists=True, dir_okay=False, resolve_path=True)
        return str(path.convert(value, param, ctx))


def _param_type(name: str, option: Option) -> click.ParamType:
    minimum = SETTINGS[name].metadata["minimum"]
    if option.kind == "duration":
        return Duration()
    if option.kind == "file":
        return ExistingFile()
    annotation = typing.get_type_hints(Settings)[name]
    if annotation is int:
        return click.IntRange(min=minimum) if minimum is not None else click.INT
    if annotation is float:
        return click.FloatRange(min=minimum) if minimum is not None else click.FLOAT
    return click.STRING


def setting_option(name: str, flag: str | None = None) -> Callable[[F], F]:
    """The click option of one setting, from its row of the table: flag, type, default, help,
    environment variable. `flag` renames it for a command where the setting reads better
    under another name (`user token issue --ttl`)."""
    row = SETTINGS[name]
    option: Option = row.metadata["option"]
    default = row.default if row.default_factory is dataclasses.MISSING else row.default_factory
    shown: bool | str = option.shown or (default not in (None, "") and not callable(default))
    if typing.get_type_hints(Settings)[name] is bool:
        return click.option(flag or option.flag, name, is_flag=True, default=default,
                            help=row.metadata["help"])
    return click.option(flag or option.flag, name, type=_param_type(name, option),
                        default=default, show_default=shown, envvar=option.env,
                        show_envvar=option.env is not None, help=row.metadata["help"])


def command_options(name: str) -> Callable[[F], F]:
    """Every setting that has an option on command `name` (serve, purge), in the table's
    order."""
    def decorate(command: F) -> F:
        for row in reversed(dataclasses.fields(Settings)):
            option: Option | None = row.metadata["option"]
            if option is not None and option.command == name:
                command = setting_option(row.name)(command)
        return command
    return decorate


settings_options = command_options("serve")


DB_OPTION = setting_option("db_url")


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
def admin_engine(db_url: str, *, bounds: DbBounds | None = None,
                 watched: bool = False) -> Iterator[Engine]:
    """A migrated engine for one admin command, disposed afterwards. `bounds`: its waits on
    PostgreSQL (the defaults unless given); `watched`: a watchdog (central/db/watchdog.py)
    cuts its connections when the database hangs, for a command whose statements may run
    longer than a hang should be waited for (the purge)."""
    from central.migrate import migrate

    check_database(db_url)
    engine = make_engine(db_url, pooled=False, bounds=bounds)
    watchdog = None
    try:
        if watched and not is_sqlite(engine):
            from central.db.watchdog import Watchdog

            watchdog = Watchdog(engine, bounds or DbBounds()).start()
        migrate(engine)
        yield engine
    except CentralError as err:
        raise click.ClickException(err.message) from err
    finally:
        if watchdog is not None:
            watchdog.stop()
        engine.dispose()


def parse_ttl(value: str, option: str) -> timedelta:
    """`30m`, `24h`, `90d` ... as a timedelta, or a usage error naming the option."""
    try:
        return timedelta(seconds=Duration().convert(value, None, None))
    except click.BadParameter as err:
        raise click.BadParameter(err.message, param_hint=option) from err


def fail(err: CentralError) -> click.ClickException:
    return click.ClickException(err.message)


JSON_OPTION = click.option("--json", "as_json", is_flag=True,
                           help="JSON lines instead of a table.")


def print_rows(rows: list[dict[str, Any]], columns: tuple[str, ...], as_json: bool) -> None:
    """Rows as JSON lines (every field), or as a table of `columns`."""
    if as_json:
        for row in rows:
            click.echo(json.dumps(row, ensure_ascii=False))
        return
    print_table(rows, columns)


def print_table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    cells = [[("" if row[c] is None else str(row[c])) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    if not rows:
        click.echo("(none)")
