"""The one-way arrows of docs/design.md, checked on the source: every `import` statement of a
package (module level or inside a function) against the top-level names it must never import.

    terminal -> drivers, sync, wlt        central -> sync, wlt
    drivers, terminal, central -> codetables (data and the standard library only)
    drivers: no SQLite, no HTTP, nothing of registrations     sync: no serial ports
    wlt: the standard library and Pillow only
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
_SQL_AND_HTTP = {"sqlite3", "sqlite_utils", "sqlalchemy", "alembic", "psycopg", "requests",
                 "http", "httpx", "urllib3", "starlette", "fastapi", "uvicorn", "jinja2"}
FORBIDDEN: dict[str, set[str]] = {
    "drivers": {"terminal", "sync", "central", "wlt", *_SQL_AND_HTTP},
    "sync": {"drivers", "terminal", "central", "wlt", "serial"},
    "wlt": {"drivers", "terminal", "sync", "central", "serial", *_SQL_AND_HTTP},
    "central": {"terminal", "drivers"},
    # the shared code tables: data and the standard library only, so every layer may read them
    "codetables": {"drivers", "terminal", "sync", "central", "wlt", "serial", *_SQL_AND_HTTP},
}


def imported(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_follow_the_arrows(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no Python files"
    wrong = {str(f.relative_to(ROOT)): sorted(imported(f) & FORBIDDEN[package]) for f in files}
    assert {f: names for f, names in wrong.items() if names} == {}


def test_the_checker_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("import os\n\ndef f():\n    from terminal.cli import main\n    import a.b\n")
    assert imported(source) == {"os", "terminal", "a"}
