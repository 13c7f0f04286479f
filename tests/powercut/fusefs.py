"""A FUSE filesystem that keeps only what was made durable, and can lose power.

    python -m tests.powercut.fusefs IMAGE MOUNTPOINT OUT [--cut-after N] [--seed S] [--reorder]

mounts the files of the directory IMAGE (the durable state after the last power cut, or a fresh
one) at MOUNTPOINT, all in memory. Every mutating operation (write, truncate, create, mkdir,
unlink, rmdir, rename, chmod, fsync, fsyncdir) is counted; at operation N (or on "cut" on
stdin) the power goes: that operation and every later one fail with EIO, nothing changes any
more, and the durable state is written to the directory OUT, which the next mount starts from.
On stdin: "sync" makes everything durable (a clean shutdown), "arm N" sets the cut at the N-th
change from now, "ops" asks the count so far. The daemon prints "ready", then "cut N" when the
power went and "saved" once OUT is written; it ends when unmounted (fusermount3 -u).

The durability model, ext4 data=ordered read conservatively (POSIX promises no more):

* file data (writes and truncations) is durable only after fsync/fdatasync of that file, which
  makes all of its data durable at once (size included, as fdatasync must for the data to be
  readable);
* names (create, mkdir, unlink, rmdir, rename, chmod) go to one ordered journal; fsync of a
  directory commits the whole journal so far (as a jbd2 commit does), fsync of a file does
  not (ext4 would commit the new file's name too; POSIX does not promise it, so we don't);
* at the cut, by default every uncommitted name change and every unsynced write is lost.
  With --reorder, as writeback may have flushed some pages before the cut, a random prefix of
  the uncommitted journal survives and each unsynced write or truncation survives or not at
  random (applied in order): torn, partly written files, which a correct program must survive.

What it does not model: torn sectors inside one write, a disk that lies about flushes, and
the -shm file's memory mapping (SQLite rebuilds that index after a crash; it is a file here
like any other).
"""

from __future__ import annotations

import argparse
import errno
import os
import random
import stat
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import mfusepy


@dataclass
class Node:
    data: bytearray = field(default_factory=bytearray)
    durable: bytes = b""
    pending: list[tuple[str, int, bytes]] = field(default_factory=list)  # ("w"|"t", off, data)
    mode: int = 0o100644

    def sync(self) -> None:
        self.durable = bytes(self.data)
        self.pending.clear()


class PowerLossFS:
    use_ns = True

    def __init__(
        self, image: Path, out: Path, *, cut_after: int | None, seed: int, reorder: bool
    ) -> None:
        self.out = out
        self.cut_after = cut_after
        self.rng = random.Random(seed)
        self.reorder = reorder
        self.mutex = threading.Lock()
        self.ops = 0
        self.dead = False
        self.names: dict[str, Node | None] = {"/": None}  # None: a directory
        for path in sorted(image.rglob("*")):
            rel = "/" + path.relative_to(image).as_posix()
            if path.is_dir():
                self.names[rel] = None
            else:
                data = path.read_bytes()
                self.names[rel] = Node(
                    bytearray(data), data, mode=0o100000 | (stat.S_IMODE(path.stat().st_mode))
                )
        self.durable_names = dict(self.names)
        self.journal: list[tuple[object, ...]] = []
        self.handles: dict[int, Node] = {}
        self.next_fh = 1

    # -- power ---------------------------------------------------------------------------

    def _mutate(self) -> None:
        """Count a mutating operation; at the cut point, the power goes before it happens."""
        if self.dead:
            raise mfusepy.FuseOSError(errno.EIO)
        self.ops += 1
        if self.cut_after is not None and self.ops >= self.cut_after:
            self.power_cut()
            raise mfusepy.FuseOSError(errno.EIO)

    def power_cut(self) -> None:
        if self.dead:
            return
        self.dead = True
        print(f"cut {self.ops}", flush=True)
        names = dict(self.durable_names)
        # Drop mode: no uncommitted name change survives. Reorder: the journal is written in
        # order, so some prefix of it may have reached the disk before the cut.
        survived = self.journal[: self.rng.randint(0, len(self.journal))] if self.reorder else []
        for entry in survived:
            _apply(names, entry)
        self._save(names)

    def sync_all(self) -> None:
        with self.mutex:
            for node in self.names.values():
                if node is not None:
                    node.sync()
            self.durable_names = dict(self.names)
            self.journal.clear()

    def _save(self, names: dict[str, Node | None]) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        for path, node in sorted(names.items()):
            target = self.out / path.lstrip("/")
            if node is None:
                target.mkdir(parents=True, exist_ok=True)
                continue
            data = bytearray(node.durable)
            if self.reorder:
                for kind, offset, chunk in node.pending:
                    if self.rng.random() < 0.5:
                        _apply_data(data, kind, offset, chunk)
            target.write_bytes(bytes(data))
            target.chmod(stat.S_IMODE(node.mode))
        print("saved", flush=True)

    # -- names ---------------------------------------------------------------------------

    def _journal(self, *entry: object) -> None:
        self.journal.append(entry)
        _apply(self.names, entry)

    def _node(self, path: str | None, fh: int | None = None) -> Node | None:
        if fh:
            return self.handles[fh]
        if path not in self.names:
            raise mfusepy.FuseOSError(errno.ENOENT)
        return self.names[path]

    def getattr(self, path: str | None, fh: int | None = None) -> dict[str, float | int]:
        if self.dead:
            raise mfusepy.FuseOSError(errno.EIO)
        node = self._node(path, fh)
        now = time.time()
        if node is None:
            return {
                "st_mode": stat.S_IFDIR | 0o755,
                "st_nlink": 2,
                "st_size": 0,
                "st_mtime": now,
                "st_ctime": now,
                "st_atime": now,
            }
        return {
            "st_mode": node.mode,
            "st_nlink": 1,
            "st_size": len(node.data),
            "st_mtime": now,
            "st_ctime": now,
            "st_atime": now,
            "st_uid": os.getuid(),
            "st_gid": os.getgid(),
        }

    def readdir(self, path: str, fh: int) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return [".", ".."] + [
            n[len(prefix) :]
            for n in self.names
            if n.startswith(prefix) and "/" not in n[len(prefix) :] and n != "/"
        ]

    def statfs(self, path: str) -> dict[str, int]:
        return {
            "f_bsize": 4096,
            "f_frsize": 4096,
            "f_blocks": 1 << 20,
            "f_bfree": 1 << 19,
            "f_bavail": 1 << 19,
            "f_files": 1 << 16,
            "f_ffree": 1 << 15,
            "f_namemax": 255,
        }

    def access(self, path: str, amode: int) -> int:
        self._node(path)
        return 0

    def opendir(self, path: str) -> int:
        return 0

    def releasedir(self, path: str | None, fh: int) -> int:
        return 0

    def mkdir(self, path: str, mode: int) -> int:
        with self.mutex:
            self._mutate()
            self._journal("mkdir", path)
        return 0

    def rmdir(self, path: str) -> int:
        with self.mutex:
            self._mutate()
            self._journal("unlink", path)
        return 0

    def create(self, path: str, mode: int, fi: object = None) -> int:
        with self.mutex:
            self._mutate()
            node = Node(mode=stat.S_IFREG | stat.S_IMODE(mode))
            self._journal("link", path, node)
            return self._open(node)

    def unlink(self, path: str) -> int:
        with self.mutex:
            self._mutate()
            self._journal("unlink", path)
        return 0

    def rename(self, old: str, new: str) -> int:
        with self.mutex:
            self._mutate()
            self._journal("rename", old, new)
        return 0

    def chmod(self, path: str, mode: int) -> int:
        with self.mutex:
            self._mutate()
            node = self._node(path)
            if node is not None:
                node.mode = stat.S_IFREG | stat.S_IMODE(mode)
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        return 0

    def utimens(self, path: str, times: object = None) -> int:
        return 0

    def fsyncdir(self, path: str | None, datasync: int, fh: int) -> int:
        with self.mutex:
            self._mutate()
            self.durable_names = dict(self.names)  # a journal commit: every name change so far
            self.journal.clear()
        return 0

    # -- data ----------------------------------------------------------------------------

    def _open(self, node: Node) -> int:
        fh = self.next_fh
        self.next_fh += 1
        self.handles[fh] = node
        return fh

    def open(self, path: str, flags: int) -> int:
        with self.mutex:
            if self.dead:
                raise mfusepy.FuseOSError(errno.EIO)
            node = self._node(path)
            if node is None:
                raise mfusepy.FuseOSError(errno.EISDIR)
            if flags & os.O_TRUNC:
                self._mutate()
                _apply_data(node.data, "t", 0, b"")
                node.pending.append(("t", 0, b""))
            return self._open(node)

    def release(self, path: str | None, fh: int) -> int:
        with self.mutex:
            self.handles.pop(fh, None)
        return 0

    def flush(self, path: str | None, fh: int) -> int:
        return 0

    def read(self, path: str | None, size: int, offset: int, fh: int) -> bytes:
        if self.dead:
            raise mfusepy.FuseOSError(errno.EIO)
        return bytes(self.handles[fh].data[offset : offset + size])

    def write(self, path: str | None, data: bytes, offset: int, fh: int) -> int:
        with self.mutex:
            self._mutate()
            node = self.handles[fh]
            _apply_data(node.data, "w", offset, data)
            node.pending.append(("w", offset, bytes(data)))
        return len(data)

    def truncate(self, path: str | None, length: int, fh: int | None = None) -> int:
        with self.mutex:
            self._mutate()
            node = self._node(path, fh)
            if node is None:
                raise mfusepy.FuseOSError(errno.EISDIR)
            _apply_data(node.data, "t", length, b"")
            node.pending.append(("t", length, b""))
        return 0

    def fsync(self, path: str | None, datasync: int, fh: int) -> int:
        with self.mutex:
            self._mutate()
            self.handles[fh].sync()
        return 0


def _apply(names: dict[str, Node | None], entry: tuple[object, ...]) -> None:
    kind, path = entry[0], str(entry[1])
    if kind == "mkdir":
        names[path] = None
    elif kind == "link":
        names[path] = entry[2]  # type: ignore[assignment]
    elif kind == "unlink":
        names.pop(path, None)
    elif kind == "rename":
        new = str(entry[2])
        moved = {p: n for p, n in names.items() if p == path or p.startswith(path + "/")}
        for p in moved:
            del names[p]
        for p in [p for p in names if p == new or p.startswith(new + "/")]:
            del names[p]
        for p, n in moved.items():
            names[new + p[len(path) :]] = n


def _apply_data(data: bytearray, kind: str, offset: int, chunk: bytes) -> None:
    if kind == "t":
        del data[offset:]
        data.extend(b"\0" * (offset - len(data)))
        return
    if offset > len(data):
        data.extend(b"\0" * (offset - len(data)))
    data[offset : offset + len(chunk)] = chunk


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("image", type=Path)
    parser.add_argument("mountpoint")
    parser.add_argument("out", type=Path)
    parser.add_argument("--cut-after", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reorder", action="store_true")
    args = parser.parse_args(argv)
    fs = PowerLossFS(
        args.image, args.out, cut_after=args.cut_after, seed=args.seed, reorder=args.reorder
    )

    def commands() -> None:
        for line in sys.stdin:
            word, _, arg = line.strip().partition(" ")
            if word == "cut":
                with fs.mutex:
                    fs.power_cut()
                print("cut-done", flush=True)
            elif word == "sync":
                fs.sync_all()
                print("synced", flush=True)
            elif word == "arm":
                with fs.mutex:
                    fs.cut_after = fs.ops + int(arg)
                print("armed", flush=True)
            elif word == "ops":
                print(f"ops {fs.ops}", flush=True)

    def ready() -> None:
        while not os.path.ismount(args.mountpoint):
            time.sleep(0.01)
        print("ready", flush=True)

    threading.Thread(target=commands, daemon=True).start()
    threading.Thread(target=ready, daemon=True).start()
    mfusepy.FUSE(
        fs,
        args.mountpoint,
        foreground=True,
        nothreads=True,
        hard_remove=True,
        default_permissions=True,
    )


if __name__ == "__main__":
    main()
