"""Driving the power-loss filesystem (tests/powercut/fusefs.py) from a test.

    with PowerFS(image_dir, mountpoint, out_dir) as fs:   # mounted from image_dir
        fs.sync(); fs.arm(40)                             # power goes at the 40th change from now
        ...run processes on fs.mountpoint...
        cut_at = fs.cut()                                 # (no-op if already cut) durable -> out
    # unmounted; out_dir is the durable image the next mount starts from

The daemon is a subprocess; its stdout answers each command on a line of its own.
"""

from __future__ import annotations

import functools
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).parents[2]
TIMEOUT_S = 20.0


@functools.cache
def fuse_available() -> str | None:
    """Why FUSE cannot run here, or None when it can (a real mount is tried once)."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if shutil.which("fusermount3") is None:
        return "fusermount3 missing (Debian package fuse3)"
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as err:  # OSError: libfuse3.so.3 missing
        return f"mfusepy unusable: {err}"
    with tempfile.TemporaryDirectory(prefix="anju-fuse-probe-") as tmp:
        try:
            PowerFS(Path(tmp) / "image", Path(tmp) / "mnt", Path(tmp) / "out").unmount()
        except AssertionError as err:  # e.g. mount refused: no CAP_SYS_ADMIN in a container
            return f"cannot mount a FUSE filesystem: {err}"
    return None


class PowerFS:
    def __init__(
        self, image: Path, mountpoint: Path, out: Path, *, seed: int = 0, reorder: bool = False
    ) -> None:
        self.image, self.mountpoint, self.out = image, mountpoint, out
        image.mkdir(parents=True, exist_ok=True)
        mountpoint.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "tests.powercut.fusefs",
            str(image),
            str(mountpoint),
            str(out),
            "--seed",
            str(seed),
        ] + (["--reorder"] if reorder else [])
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.cut_at: int | None = None
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self._expect("ready")
        except AssertionError:
            self.unmount()
            raise

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.strip())
        self.lines.put("")

    def _expect(self, word: str) -> str:
        while True:
            try:
                line = self.lines.get(timeout=TIMEOUT_S)
            except queue.Empty:
                raise AssertionError(f"power-loss filesystem: no {word!r} in time") from None
            if line == "":
                raise AssertionError(f"power-loss filesystem ended before {word!r}")
            if line.startswith("cut "):
                self.cut_at = int(line.split()[1])
            if line.split()[0] == word:
                return line

    def _send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def sync(self) -> None:
        """Everything so far becomes durable (as a clean shutdown would make it)."""
        self._send("sync")
        self._expect("synced")

    def arm(self, changes: int) -> None:
        """The power goes at the `changes`-th mutating operation from now."""
        self._send(f"arm {changes}")
        self._expect("armed")

    def ops(self) -> int:
        self._send("ops")
        return int(self._expect("ops").split()[1])

    def cut(self) -> int | None:
        """Cut the power now (if it has not gone yet) and save the durable image to `out`."""
        self._send("cut")
        self._expect("cut-done")
        return self.cut_at

    def unmount(self) -> None:
        if self.process.poll() is None:
            subprocess.run(
                ["fusermount3", "-u", "-z", str(self.mountpoint)], check=False, capture_output=True
            )
            try:
                self.process.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self._reader.join(timeout=TIMEOUT_S)

    def __enter__(self) -> PowerFS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unmount()
