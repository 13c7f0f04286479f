"""Which of the terminal's private files other users can open: the settings file when it holds
the clerk PIN, the device credential, the store with its side files and migration backups.

`anju terminal run` and `anju sync run` log each one at start (English, for the technician);
`exposed_files` is the reusable check a future `anju doctor` shows. The files the terminal
creates itself are created 0600 whatever the umask (sync/files.py); these are the ones someone
created or changed by hand.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sync.files import Exposure, exposure, sqlite_exposures, warn
from terminal.config import Config

log = logging.getLogger(__name__)


def exposed_files(config: Config, database: Path) -> list[Exposure]:
    found: list[Exposure | None] = []
    if config.source is not None and config["web.clerk_pin"]:
        found.append(exposure("settings file (it holds the clerk PIN)", config.source))
    found.append(exposure("device credential", config["sync.credential_file"]))
    found += sqlite_exposures("store", database)
    for backup in sorted(database.parent.glob(f"{database.name}.v*.bak")):
        found.append(exposure("store backup", backup))
    return [item for item in found if item is not None]


def warn_exposed_files(config: Config, database: Path) -> list[Exposure]:
    return warn(exposed_files(config, database), log)
