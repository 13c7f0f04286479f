"""Editing the technician's settings file in place (what `anju provision` writes).

The settings file is the technician's: its comments, blank lines, order of tables and keys,
quoting and every setting we do not set are kept byte for byte. Only the keys asked for are
changed: an existing key keeps its place (and its comment on the same line), a missing key is
added at the end of its table, a missing table at the end of the file. TOML is edited with
`tomlkit`, which keeps the document's formatting; `tomllib` stays the reader everywhere else.

Writing is atomic: a temporary file beside the target (created with O_EXCL, never wider than
the target's mode), fsync, rename over the target, fsync of the folder. An existing file keeps
its mode, owner and group (the services may read it through its group; a clerk PIN in it must
not become world-readable); a new file is created with the umask's mode, as any editor would.
A symlinked settings file is written through the link. When nothing changes, nothing is
written (re-provisioning is idempotent down to the file's inode and mtime).

Errors are ConfigError: a malformed file is refused before anything is written, naming the
line, and the file is left untouched.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

from terminal.errors import ConfigError

NEW_FILE_MODE = 0o666  # narrowed by the umask, as for any new file


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
    target = Path(os.path.realpath(path))  # write through a symlink, never replace the link
    data = text.encode("utf-8")
    try:
        before = os.stat(target)
    except FileNotFoundError:
        before = None
    if before is not None and _read_bytes(target) == data:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    mode = stat.S_IMODE(before.st_mode) if before is not None else NEW_FILE_MODE
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o777)
        try:
            if before is not None:
                _keep_owner(fd, before)
                os.fchmod(fd, stat.S_IMODE(before.st_mode))  # the umask must not narrow it
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise ConfigError(f"cannot write settings file {target}: {err}; it was left as it was",
                          "配置文件无法写入，未作修改") from err
    _fsync_dir(target.parent)
    return True


def _read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def _keep_owner(fd: int, before: os.stat_result) -> None:
    """Give the new file the old one's owner and group, or refuse (never change who reads it)."""
    now = os.fstat(fd)
    if (now.st_uid, now.st_gid) != (before.st_uid, before.st_gid):
        os.fchown(fd, before.st_uid, before.st_gid)  # PermissionError: refused, file untouched


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every filesystem allows it)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
