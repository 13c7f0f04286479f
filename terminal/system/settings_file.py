"""Editing the technician's settings file in place (what `anju provision` writes).

The settings file is the technician's: its comments, blank lines, order of tables and keys,
quoting and every setting we do not set are kept byte for byte. Only the keys asked for are
changed: an existing key keeps its place (and its comment on the same line), a missing key is
added at the end of its table, a missing table at the end of the file. TOML is edited with
`tomlkit`, which keeps the document's formatting; `tomllib` stays the reader everywhere else.

Writing is atomic and durable (terminal/system/atomic_file.py, the one writer of surviving
files): an existing file keeps its mode, owner and group; a symlinked settings file is written
through the link; when nothing changes, nothing is written.

Errors are ConfigError: a malformed file is refused before anything is written, naming the
line, and the file is left untouched.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from sync.atomic_file import write_atomic
from terminal.errors import ConfigError


def read_document(path: Path) -> tomlkit.TOMLDocument:
    """The settings file as an editable document; an empty one when the file does not exist."""
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return tomlkit.document()
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read settings file {path}: {err}", "配置文件无法读取") from err
    try:
        tomllib.loads(text)  # the reader's verdict (load_config), with line and column
        return tomlkit.parse(text)
    except (tomllib.TOMLDecodeError, TOMLKitError) as err:
        raise ConfigError(f"settings file {path} is not valid TOML: {err}; nothing was written",
                          "配置文件格式有误，未作任何修改") from err


def set_values(doc: tomlkit.TOMLDocument, values: Mapping[str, Any]) -> None:
    """Set "section.key" values in `doc`, changing nothing else."""
    for name, value in values.items():
        section, _, key = name.partition(".")
        if not section or not key or "." in key:
            raise ValueError(f"expected 'section.key', got {name!r}")
        table = doc.get(section)
        if table is None:
            table = tomlkit.table()
            doc.add(section, table)
            table = doc[section]
        elif not isinstance(table, dict):
            raise ConfigError(f"[{section}] must be a table", "配置文件格式有误")
        table[key] = value


def write_text_atomic(path: Path, text: str) -> bool:
    """Replace `path` with `text` atomically, keeping mode, owner and group; False if unchanged."""
    try:
        return write_atomic(path, text.encode("utf-8"))
    except OSError as err:
        raise ConfigError(f"cannot write settings file {path}: {err}; it was left as it was",
                          "配置文件无法写入，未作修改") from err
