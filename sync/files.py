"""Files that hold personal data or secrets: created private whatever the umask, and a check
that names those other users can open.

Shared by the terminal (its store, settings file and credential) and the central server (its
SQLite database); it lives in `sync`, the one package both may import. Private means mode 0600:
the terminal's services and the central server each run as one user, so no group needs them
(docs/configuration.md, "Files and their modes"). `exposures()` is the reusable check: `anju
terminal run`, `anju sync run` and `anju central serve` log its findings at start, and a future
`anju doctor` can show them.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PRIVATE = 0o600
OTHERS = 0o007  # any permission for "others" opens the file to every local user
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def create_private(path: Path, mode: int = PRIVATE) -> bool:
    """Create `path` empty with exactly `mode` unless it exists; True if it was created.

    SQLite gives the -wal, -shm and -journal files it creates later the database file's mode,
    so creating the database file first is enough for all of them.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    try:
        os.fchmod(fd, mode)  # the umask narrows what os.open asked for, never widens: set it
    finally:
        os.close(fd)
    return True


@dataclass(frozen=True, slots=True)
class Exposure:
    """A file other users can open: what it is, where, its mode."""

    what: str
    path: Path
    mode: int

    def message(self) -> str:
        return (
            f"{self.what} {self.path} is open to other users (mode {self.mode:04o}): "
            f"run chmod 600 {self.path}"
        )


def exposure(what: str, path: Path | str) -> Exposure | None:
    """The file's exposure, or None when it is missing or closed to others."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return None
    return Exposure(what, Path(path), mode) if mode & OTHERS else None


def sqlite_exposures(what: str, database: Path | str) -> list[Exposure]:
    """The database and the side files SQLite keeps beside it."""
    paths = [Path(database), *(Path(f"{database}{suffix}") for suffix in SQLITE_SIDE_FILES)]
    return [e for e in (exposure(what, p) for p in paths) if e is not None]


def warn(exposures: Iterable[Exposure], logger: logging.Logger) -> list[Exposure]:
    """Log each exposure as a warning (English, for the technician); returns them."""
    found = list(exposures)
    for item in found:
        logger.warning("%s", item.message())
    return found
