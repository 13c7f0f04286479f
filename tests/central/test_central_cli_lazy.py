"""`anju central` names its commands in tables (central/cli/main.py, central/cli/lazy.py) and
loads one only when it runs: each table's short help is the command's own, `--help` lists every
command, and `anju central feed pull`, which a police system runs on a host of its own, starts
without SQLAlchemy, FastAPI or the settings table."""

from __future__ import annotations

import importlib
import subprocess
import sys

import click
import pytest

from central.cli.devices import site
from central.cli.feed import feed
from central.cli.lazy import LazyGroup
from central.cli.main import central

GROUPS: list[LazyGroup] = [central, feed, site]  # type: ignore[list-item]
ENTRIES = [(group, name) for group in GROUPS for name in sorted(group.lazy)]

PROBE = """
import sys
from terminal.cli import cli
def run(*argv):
    try:
        cli([*argv, "--help"], prog_name="anju")
    except SystemExit as exit:
        print("EXIT", exit.code, file=sys.stderr)
run("central"), run("central", "feed"), run("central", "feed", "pull")
print("LOADED", sorted(m for m in sys.modules if m.split(".")[0] in
      {"sqlalchemy", "fastapi", "starlette", "alembic"} or m == "central.settings"))
run("central", "site")  # its own commands take --db: the settings table and SQLAlchemy
"""


@pytest.mark.parametrize(("group", "name"), ENTRIES,
                         ids=[f"{group.name}-{name}" for group, name in ENTRIES])
def test_table_short_help_is_the_commands_own(group: LazyGroup, name: str) -> None:
    module_name, attribute = group.lazy[name][0].split(":")
    command: click.Command = getattr(importlib.import_module(module_name), attribute)
    assert command.name == name
    assert group.lazy[name][1] == command.get_short_help_str(limit=1000)


def test_help_lists_every_command_and_feed_pull_loads_no_database_code() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            timeout=60, check=False)
    assert result.stderr.split() == ["EXIT", "0"] * 4, result.stderr
    helps, loaded = result.stdout.split("LOADED ")
    central_help, feed_help, pull_help, site_help = (helps + loaded).split("Usage: ")[1:]
    for name in central.lazy:
        assert f"\n  {name} " in central_help
    assert "\n  pull " in feed_help and "\n  token " in feed_help
    assert "--follow" in pull_help
    assert loaded.startswith("[]\n"), loaded[:300]
    assert "\n  add " in site_help and "\n  district " in site_help
