"""One exception root per package (STYLE.md, practice 9): every exception class a package
defines descends from its root, and the tree drawn in its errors.py names every one of them,
so `except <Root>` catches all a package raises of its own and its docstring is the whole map.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from types import ModuleType

import pytest

ROOTS = {
    "central": "central.errors.CentralError",
    "sync": "sync.errors.SyncError",
    "drivers.idcard": "drivers.idcard.errors.IdCardError",
    "drivers.barcode": "drivers.barcode.errors.BarcodeError",
    "wlt": "wlt.errors.PhotoDecoderError",
    "terminal": "terminal.errors.TerminalError",
}
# foreign by design, each with its reason (the errors.py docstring says it too)
FOREIGN = {
    # raised inside psycopg's waits so that SQLAlchemy wraps it as a lost connection;
    # central/db/failures.py maps it to UnavailableError
    "central.db.pgbounds.DatabaseHungError",
    # control flow inside `anju provision`: carries the failing step to the exit code and never
    # leaves the command
    "terminal.commands.provision._Stop",
}


def _modules(package: str) -> list[ModuleType]:
    root = importlib.import_module(package)
    found = [root]
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if ".migrations" in info.name:
            continue
        found.append(importlib.import_module(info.name))
    return found


def defined_exceptions(package: str) -> dict[str, type[BaseException]]:
    return {f"{module.__name__}.{name}": obj
            for module in _modules(package) for name, obj in vars(module).items()
            if inspect.isclass(obj) and issubclass(obj, BaseException)
            and obj.__module__ == module.__name__}


def _root(package: str) -> type[BaseException]:
    module, name = ROOTS[package].rsplit(".", 1)
    root = getattr(importlib.import_module(module), name)
    assert issubclass(root, Exception)
    return root


@pytest.mark.parametrize("package", sorted(ROOTS))
def test_every_exception_descends_from_the_packages_root(package: str) -> None:
    root = _root(package)
    outside = sorted(name for name, cls in defined_exceptions(package).items()
                     if not issubclass(cls, root) and name not in FOREIGN)
    assert outside == []


@pytest.mark.parametrize("package", ["central", "sync", "terminal"])
def test_the_drawn_tree_names_every_exception(package: str) -> None:
    """The tree in errors.py's docstring names each public exception of the package."""
    module = importlib.import_module(ROOTS[package].rsplit(".", 1)[0])
    drawn = set(re.findall(r"\b([A-Z][A-Za-z]+(?:Error|Exhausted|Requested))\b",
                           module.__doc__ or ""))
    missing = sorted(name for name in defined_exceptions(package)
                     if not name.rsplit(".", 1)[1].startswith("_")
                     and name.rsplit(".", 1)[1] not in drawn)
    assert missing == []

