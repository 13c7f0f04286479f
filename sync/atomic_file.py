"""The one way Anju replaces a file that must survive a power cut (terminal and central).

    write_atomic(path, data)                 # keeps the file's mode, owner and group
    write_atomic(path, data, mode=0o600)     # exactly this mode (a secret)
    write_json_atomic(path, doc, mode=0o600)

A temporary file beside the target (created with O_EXCL, never wider than asked), every byte
written, fsync, rename over the target, fsync of the folder: after a power cut at any instant
the path holds the old content or the new one, never a part of either and never nothing (the
rename is only durable once the folder is fsynced; tests/powercut/test_powercut_files.py cuts
the power at every step). On any error the temporary file is removed and OSError raised; the
target is left as it was. A symlinked target is written through the link, never replaced.
When the content is already the same nothing is written (no needless flash wear, and
re-provisioning is idempotent down to the inode and mtime).

Without `mode`, an existing file keeps its mode, owner and group (the services may read it
through its group: a clerk PIN in it must not become world-readable), and a new file gets the
umask's mode, as any editor would do.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

NEW_FILE_MODE = 0o666  # narrowed by the umask, as for any new file
# fsync of a folder is refused by some filesystems (it is not POSIX-required to work): nothing
# better can be done there. Any other error (EIO after a power loss) is the caller's.
_DIR_FSYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EISDIR}


def write_atomic(path: Path, data: bytes, *, mode: int | None = None) -> bool:
    """Replace `path` with `data` durably and atomically; False (nothing done) if unchanged."""
    target = Path(os.path.realpath(path))
    try:
        before: os.stat_result | None = os.stat(target)
    except FileNotFoundError:
        before = None
    if (
        before is not None
        and _read_bytes(target) == data
        and (mode is None or stat.S_IMODE(before.st_mode) == mode)
    ):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    if mode is None:
        mode = stat.S_IMODE(before.st_mode) if before is not None else None
        exact = before is not None
    else:
        exact = True
    try:
        fd = os.open(
            tmp,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL,
            (mode if mode is not None else NEW_FILE_MODE) & 0o777,
        )
        try:
            if before is not None:
                _keep_owner(fd, before)
            if exact and mode is not None:
                os.fchmod(fd, mode)  # the umask must not narrow (or widen) what was asked
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)
    return True


def write_json_atomic(path: Path, doc: dict[str, Any], *, mode: int | None = None) -> bool:
    return write_atomic(path, json.dumps(doc, indent=2, ensure_ascii=False).encode(), mode=mode)


def fsync_dir(folder: Path) -> None:
    """Make the names in `folder` (a rename, a new or removed file) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as err:
        if err.errno not in _DIR_FSYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


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
