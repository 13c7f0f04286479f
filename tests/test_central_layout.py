"""The arrows inside `central/` (docs/design.md, "Layout"), checked on the source: every import
statement, at module level or inside a function, between the server's parts, and no cycle in
the import graph of its modules or of its parts.

    cli -> app -> web -> police, accounts, fleet, feed, serving
    devices -> stays, feed (ingest's hook)      feed -> police, accounts, stays
    police -> accounts      fleet, stays, accounts -> db, clock, errors, logsafe, payloads

A part is a folder of central/ (devices, stays, accounts, police, feed, serving, web, cli, db)
or a module at its root (app, settings, errors, clock, logsafe, payloads, migrate, fleet,
rollout).
(tests/test_layers.py checks the arrows between the top-level packages.)
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest

from tests.test_layers import cycles

ROOT = Path(__file__).parents[1]
CENTRAL = ROOT / "central"

# part -> the parts of central it must never import
FORBIDDEN: dict[str, set[str]] = {
    # what terminals send: nothing of the people who read it, nor of the server around it
    "devices": {"police", "accounts", "web", "fleet", "serving", "cli", "app", "migrate"},
    # the stored stays: written by devices, read by police and feed, importing none of them
    "stays": {"devices", "police", "accounts", "feed", "web", "fleet", "serving", "cli", "app",
              "migrate", "settings"},
    "accounts": {"devices", "stays", "police", "feed", "web", "fleet", "serving", "cli", "app",
                 "migrate", "settings"},
    # the police read what is stored; they never reach into ingest
    "police": {"devices", "stays", "feed", "web", "fleet", "serving", "cli", "app", "migrate"},
    "feed": {"devices", "web", "fleet", "serving", "cli", "app", "migrate"},
    "fleet": {"devices", "stays", "accounts", "police", "feed", "web", "serving", "cli", "app",
              "migrate"},
    # software rollouts: an administrator's orders (audited), read by the heartbeat's answer
    # and the fleet page; nothing of what terminals send or of the police
    "rollout": {"devices", "stays", "police", "feed", "fleet", "web", "serving", "cli", "app",
                "migrate", "settings"},
    "serving": {"devices", "stays", "accounts", "police", "feed", "web", "cli", "app",
                "migrate"},
    "web": {"devices", "stays", "cli", "app", "migrate"},
    "db": {"devices", "stays", "accounts", "police", "feed", "fleet", "serving", "web", "cli",
           "app", "migrate", "settings", "clock", "logsafe"},
    "settings": {"devices", "stays", "police", "feed", "fleet", "serving", "web", "cli", "app",
                 "migrate"},
    "app": {"cli"},
    # the leaves every part may use import no other part
    "errors": {"*"},
    "clock": {"*"},
    "logsafe": {"*"},
    "payloads": {"*"},
}
# third-party names only some parts may import: the HTTP framework is the routes' business,
# the command line the CLI's
ONLY_IN: dict[str, set[str]] = {
    "fastapi": {"app", "web", "serving"},
    "starlette": {"app", "web", "serving"},
    "uvicorn": {"cli"},
    "click": {"cli"},
    "jinja2": {"web"},
}


@cache
def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of central/ but the Alembic scripts."""
    found = {}
    for path in sorted(CENTRAL.rglob("*.py")):
        if "migrations" in path.relative_to(CENTRAL).parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports_of(path: Path, known: Iterable[str]) -> set[str]:
    """Every module name one file imports (absolute imports, at any depth of the file):
    `from central.police import acts` is `central.police.acts` when that is a module."""
    known = set(known)
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                names.add(sub if sub in known else node.module)
    return names


def part_of(module: str) -> str:
    """`central.devices.ingest` -> devices; `central.fleet` -> fleet; `central` -> central."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


@cache
def graph() -> dict[str, set[str]]:
    found = modules()
    return {name: {m for m in imports_of(path, found) if m.split(".")[0] == "central"
                   and m != name} for name, path in found.items()}


def test_every_part_has_its_rule() -> None:
    parts = {part_of(m) for m in modules()} - {"central"}
    assert parts == set(FORBIDDEN) | {"cli", "migrate"}, "a new part of central/ needs a rule"


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_parts_import_along_the_arrows(part: str) -> None:
    forbidden = FORBIDDEN[part]
    wrong = {}
    for name, targets in graph().items():
        if part_of(name) != part:
            continue
        bad = sorted(t for t in targets if part_of(t) != part
                     and ("*" in forbidden or part_of(t) in forbidden))
        if bad:
            wrong[name] = bad
    assert wrong == {}


@pytest.mark.parametrize("library", sorted(ONLY_IN))
def test_framework_imports_stay_in_their_parts(library: str) -> None:
    found = modules()
    wrong = sorted(name for name, path in found.items()
                   if library in {n.split(".")[0] for n in imports_of(path, found)}
                   and part_of(name) not in ONLY_IN[library])
    assert wrong == []


def test_only_app_imports_web_and_only_cli_imports_app() -> None:
    wrong = sorted((name, target) for name, targets in graph().items() for target in targets
                   if (part_of(target) == "web" and part_of(name) not in {"web", "app"})
                   or (part_of(target) == "app" and part_of(name) != "cli")
                   or (part_of(target) == "cli" and part_of(name) != "cli"))
    assert wrong == []


def test_no_import_cycle_between_modules() -> None:
    assert cycles(graph()) == []


def test_no_import_cycle_between_parts() -> None:
    parts: dict[str, set[str]] = {}
    for name, targets in graph().items():
        parts.setdefault(part_of(name), set()).update(
            part_of(t) for t in targets if part_of(t) != part_of(name))
    assert cycles(parts) == []


def test_the_checker_sees_function_imports_and_cycles(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("import os\n\ndef f():\n    from central.police import acts, SearchQuery\n")
    assert imports_of(source, {"central.police.acts"}) == {"os", "central.police.acts",
                                                           "central.police"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
