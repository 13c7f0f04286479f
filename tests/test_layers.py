"""The one-way arrows of docs/design.md, checked on the source: every `import` statement of a
package (module level or inside a function) against the top-level names it must never import.

    terminal -> drivers, sync, wlt        central -> sync, wlt
    drivers, terminal, central -> codetables (data and the standard library only)
    drivers: no SQLite, no HTTP, nothing of registrations     sync: no serial ports
    wlt: the standard library and Pillow only

Inside terminal/ (docs/design.md, "Layout"):

    domain <- store <- desk <- web        uploading -> store        system: none of them
    domain imports neither store, desk nor web; store imports neither desk nor web;
    web never imports uploading (the uploader is another process); SQL only in store/

And the import graph of all product code has no cycle: module-level and function-level imports,
plus the modules named by strings ("package.module:attribute", as the CLI loads its groups,
and importlib.import_module("...")). Imports under `if TYPE_CHECKING:` are left out: they are
never executed.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PRODUCT = ("drivers", "sync", "terminal", "central", "wlt", "codetables")
_SQL_AND_HTTP = {"sqlite3", "sqlite_utils", "sqlalchemy", "alembic", "psycopg", "requests",
                 "http", "httpx", "urllib3", "starlette", "fastapi", "uvicorn", "jinja2"}
FORBIDDEN: dict[str, set[str]] = {
    "drivers": {"terminal", "sync", "central", "wlt", *_SQL_AND_HTTP},
    "sync": {"drivers", "terminal", "central", "wlt", "serial"},
    "wlt": {"drivers", "terminal", "sync", "central", "serial", *_SQL_AND_HTTP},
    "central": {"terminal", "drivers"},
    "terminal": {"central"},
    # the shared code tables: data and the standard library only, so every layer may read them
    "codetables": {"drivers", "terminal", "sync", "central", "wlt", "serial", *_SQL_AND_HTTP},
}
# The one crossing by design: `anju central ...` is a group of the one `anju` command, loaded by
# name only when it runs (SQLAlchemy is not even installed on a terminal).
ALLOWED = {"terminal/cli.py": {"central"}}
INSIDE_TERMINAL: dict[str, set[str]] = {
    "terminal.domain": {"terminal.store", "terminal.desk", "terminal.web", "terminal.uploading",
                        "terminal.commands", "terminal.doctor"},
    "terminal.store": {"terminal.desk", "terminal.web", "terminal.uploading",
                       "terminal.commands", "terminal.doctor"},
    "terminal.desk": {"terminal.web", "terminal.commands"},
    "terminal.web": {"terminal.uploading"},
    "terminal.uploading": {"terminal.desk", "terminal.web", "terminal.commands"},
    # the updater runs as root and never opens the store nor drives the desk (docs/updates.md)
    "terminal.update": {"terminal.domain", "terminal.store", "terminal.desk", "terminal.web",
                        "terminal.uploading", "terminal.doctor"},
    "terminal.system": {"terminal.domain", "terminal.store", "terminal.desk", "terminal.web",
                        "terminal.uploading", "terminal.commands", "terminal.doctor"},
}
_BY_NAME = re.compile(r"^([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)+):[A-Za-z_][A-Za-z0-9_]*$")
_SQL = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE)\b")


def _type_checking_only(tree: ast.AST) -> set[ast.AST]:
    """The import nodes under `if TYPE_CHECKING:` (never executed)."""
    skipped: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and (
                (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
                or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")):
            for child in node.body:
                skipped |= set(ast.walk(child))
    return skipped


@functools.cache
def imports(path: Path) -> tuple[tuple[str, str | None], ...]:
    return tuple(_imports(path))


def _imports(path: Path) -> Iterator[tuple[str, str | None]]:
    """(module, name) of each absolute import in one file; name is what `from module import
    name` imports (it may be a submodule), None for `import module`. Strings naming a module
    ("pkg.mod:attr", importlib.import_module("pkg.mod")) count as imports."""
    tree = ast.parse(path.read_text("utf-8"), str(path))
    skipped = _type_checking_only(tree)
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                yield node.module, alias.name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found = _BY_NAME.match(node.value)
            if found:
                yield found.group(1), None
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield node.args[0].value, None


def imported(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one file."""
    return {module.split(".")[0] for module, _ in imports(path)}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_modules() -> dict[str, Path]:
    return {module_name(f): f
            for package in PRODUCT for f in sorted((ROOT / package).rglob("*.py"))}


@functools.cache
def _graph() -> tuple[tuple[str, frozenset[str]], ...]:
    return tuple((name, frozenset(targets)) for name, targets in graph().items())


def graph() -> dict[str, set[str]]:
    """module -> the product modules it imports (`from pkg import mod` is an edge to pkg.mod)."""
    modules = product_modules()
    edges: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for module, attr in imports(path):
            if attr is not None and f"{module}.{attr}" in modules:
                targets.add(f"{module}.{attr}")
            elif module in modules:
                targets.add(module)
        edges[name] = targets - {name}
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:  # iterative: no recursion limit on a long chain
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_follow_the_arrows(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    wrong = {}
    for f in files:
        where = str(f.relative_to(ROOT))
        names = imported(f) & FORBIDDEN[package] - ALLOWED.get(where, set())
        if names:
            wrong[where] = sorted(names)
    assert wrong == {}


@pytest.mark.parametrize("layer", sorted(INSIDE_TERMINAL))
def test_terminal_layers_point_one_way(layer: str) -> None:
    modules = product_modules()
    wrong = {}
    for name, path in modules.items():
        if name != layer and not name.startswith(layer + "."):
            continue
        bad = sorted({m for m, _ in imports(path)
                      if any(m == f or m.startswith(f + ".") for f in INSIDE_TERMINAL[layer])})
        if bad:
            wrong[name] = bad
    assert wrong == {}


def test_sql_only_inside_the_store() -> None:
    """Raw SQL (and any statement run on a connection) lives in terminal/store/ only."""
    found = []
    for path in sorted((ROOT / "terminal").rglob("*")):
        if not path.is_file() or "store" in path.relative_to(ROOT / "terminal").parts[:1]:
            continue
        if path.suffix not in {".py", ".html", ".js", ".txt", ".toml", ".cfg", ".po"}:
            continue
        text = path.read_text("utf-8")
        if _SQL.search(text) or (path.suffix == ".py" and re.search(r"\.execute(many)?\(", text)):
            found.append(str(path.relative_to(ROOT)))
    assert found == []


def test_product_code_has_no_import_cycle() -> None:
    assert cycles(dict(_graph())) == []


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("import os\n\ndef f():\n    from terminal.cli import main\n    import a.b\n")
    assert imported(source) == {"os", "terminal", "a"}


def test_the_checker_reads_imports_by_name_and_skips_type_checking(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text(
        "import importlib\nfrom typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from central.app import App\n"
        "GROUPS = {'x': ('central.cli:central', 'help: not a module')}\n"
        "def f():\n    return importlib.import_module('wlt.decoder')\n")
    assert imported(source) == {"importlib", "typing", "central", "wlt"}


def test_the_cycle_finder_finds_a_cycle_through_three_modules() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(edges) == [["a", "b", "c"]]
