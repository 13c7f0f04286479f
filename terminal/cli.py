"""`anju`: the one command-line entry point (technicians, support, scripted installs).

Each group lives in its own module under `terminal/commands/`; this file only assembles them.
Messages are English unless a Chinese locale is set (LANG/LC_ALL starting with zh).
"""

from __future__ import annotations

import importlib
import logging
import os
import sys

import click

# name -> "module:attribute"; imported lazily so `anju card read` does not load the store.
_GROUPS = {
    "card": "terminal.commands.card:card",
    "sim": "terminal.commands.sim:sim",
    "store": "terminal.commands.store:store",
    "stays": "terminal.commands.stays:stays",
    "demo": "terminal.commands.demo:demo",
    "central": "central.cli:central",
    "sync": "terminal.commands.sync:sync",
    "provision": "terminal.commands.provision:provision",
    "scan": "terminal.commands.scan:scan",
    "terminal": "terminal.commands.terminal_cmd:terminal",
    "config": "terminal.commands.terminal_cmd:config_group",
    "faults": "terminal.commands.faults:faults_group",
    "doctor": "terminal.commands.doctor:doctor",
}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_GROUPS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = _GROUPS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Anju guest-registration terminal."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    try:
        cli(prog_name="anju")
    except KeyboardInterrupt:
        sys.exit(130)


def chinese_locale() -> bool:
    """True when the environment asks for Chinese messages."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable)
        if value:
            return value.lower().startswith("zh")
    return False


if __name__ == "__main__":
    main()
