"""What the `store` and `stays` commands share: finding the settings and the database, and
turning the terminal's exceptions into a message and an exit code (never a stack trace).

Exit codes: 0 success; 1 refused or faults found (blocked check-in, unknown stay, verify
faults); 2 configuration or usage error; 3 store error (disk full, schema, corruption).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from terminal.commands.language import chinese_locale
from terminal.commands.options import config_option
from terminal.config import Config, load_config
from terminal.errors import ConfigError, DomainError, TerminalError
from terminal.store.database import Store

EXIT_REFUSED = 1
EXIT_CONFIG = 2
EXIT_STORE = 3


def store_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="Database file (overrides store.database from the settings).")(func)
    return config_option(func)


def settings(config_path: Path | None, db_path: Path | None) -> tuple[Config, Path]:
    """The settings (a missing default file is fine when --db names the database)."""
    config = load_config(config_path, missing_ok=db_path is not None and config_path is None)
    return config, Path(db_path or config["store.database"])


def open_store(config_path: Path | None, db_path: Path | None, **kwargs: Any) -> Store:
    config, path = settings(config_path, db_path)
    return Store.from_config(config, path=path, **kwargs)


def fail(err: TerminalError) -> None:
    message = err.localized(chinese_locale())
    click.echo(f"error: {message}", err=True)
    if isinstance(err, ConfigError):
        sys.exit(EXIT_CONFIG)
    sys.exit(EXIT_REFUSED if isinstance(err, DomainError) else EXIT_STORE)


@contextlib.contextmanager
def reporting() -> Iterator[None]:
    """Turn the terminal's exceptions into a one-line message and an exit code."""
    try:
        yield
    except TerminalError as err:
        fail(err)
