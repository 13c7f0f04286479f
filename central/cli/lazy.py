"""A click group whose commands are named, not imported: each is loaded when it runs, so that
`anju central feed pull` (a police system's consumer: HTTP and files) starts without SQLAlchemy,
FastAPI or the settings table, and `--help` lists every command from its table all the same.
tests/central/test_central_cli_lazy.py checks each table's short help against the command's
own docstring, so a table cannot drift from its commands."""

from __future__ import annotations

import importlib
from typing import Any

import click


class LazyGroup(click.Group):
    """`lazy`: name -> ("package.module:attribute", short help), beside any command added
    directly."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return self.commands.get(cmd_name)
        module_name, attribute = self.lazy[cmd_name][0].split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The list from the table (and the direct commands' own help): importing none. A
        stand-in command with the table's help is shortened as click shortens the real one."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        shown = {name: self.commands.get(name) or click.Command(name, help=self.lazy[name][1])
                 for name in names}
        rows = [(name, shown[name].get_short_help_str(limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

