"""`anju --help` lists the groups without importing them; a group whose dependencies are not
installed (the central server's, on a terminal) says which package brings them."""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib.metadata import version

import pytest
from click.testing import CliRunner

from terminal.cli import _GROUPS, cli
from terminal.version import software_version

PROBE = """
import sys
{prelude}
from terminal.cli import cli
try:
    cli({argv!r}, prog_name="anju")
except SystemExit as exit:
    print("EXIT", exit.code, file=sys.stderr)
print("LOADED", sorted(m for m in sys.modules if m.split(".")[0] in
      {{"sqlalchemy", "central", "starlette", "PIL"}} or m.startswith("terminal.store")))
"""


def _probe(argv: list[str], prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = PROBE.format(prelude=prelude, argv=argv)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize("name", sorted(_GROUPS))
def test_table_short_help_is_the_commands_own(name):
    module_name, attribute = _GROUPS[name][0].split(":")
    command = getattr(importlib.import_module(module_name), attribute)
    assert _GROUPS[name][1] == command.get_short_help_str(limit=1000)


def test_help_lists_every_group_and_imports_none():
    result = _probe(["--help"])
    assert "EXIT 0" in result.stderr
    for name in _GROUPS:
        assert f"\n  {name} " in result.stdout
    assert result.stdout.rstrip().endswith("LOADED []"), result.stdout[-300:]


def test_a_group_loads_only_its_own_modules():
    result = _probe(["card", "--help"])
    assert "Read Chinese ID cards" in result.stdout
    assert "sqlalchemy" not in result.stdout.split("LOADED")[1]


def test_missing_central_dependencies_name_the_package():
    result = _probe(["central", "--help"], prelude="sys.modules['sqlalchemy'] = None")
    assert "EXIT 2" in result.stderr
    assert "anju-central package" in result.stderr
    assert "Traceback" not in result.stderr


def test_version_comes_from_the_package_metadata():
    result = CliRunner().invoke(cli, ["--version"], prog_name="anju")
    assert result.exit_code == 0
    assert result.output == f"anju {version('anju')}\n"
    assert software_version() == f"anju-terminal/{version('anju')}"
