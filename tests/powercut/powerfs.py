"""Driving the power-loss filesystem (tests/powercut/fusefs.py) from a test.

    with PowerFS(image_dir, mountpoint, out_dir) as fs:   # mounted from image_dir
        fs.sync(); fs.arm(40)                             # power goes at the 40th change from now
        ...run processes on fs.mountpoint...
        cut_at = fs.cut()                                 # (no-op if already cut) durable -> out
    # unmounted; out_dir is the durable image the next mount starts from

The daemon is a child forked from this process (a fresh interpreter would cost ~0.15 s of CPU
to start and import, at each of the hundreds of mounts a run makes); it reads commands on its
stdin and answers each on a line of its own on its stdout, both pipes to this process.
"""

from __future__ import annotations

import functools
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

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
        argv = [str(image), str(mountpoint), str(out), "--seed", str(seed)]
        self.process = _Daemon(argv + (["--reorder"] if reorder else []))
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
            if not self.process.wait(TIMEOUT_S):
                self.process.kill()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()
        self._reader.join(timeout=TIMEOUT_S)

    def __enter__(self) -> PowerFS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unmount()


class _Daemon:
    """tests/powercut/fusefs.py's main() in a forked child, its stdin and stdout piped here."""

    def __init__(self, argv: list[str]) -> None:
        command_read, command_write = os.pipe()
        answer_read, answer_write = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover - the child: serve the mount, then leave at once
            code = 1
            try:
                os.dup2(command_read, 0)
                os.dup2(answer_write, 1)
                for fd in (command_read, command_write, answer_read, answer_write):
                    os.close(fd)
                sys.stdin = open(0, closefd=False)  # noqa: SIM115 - the child's whole life
                sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
                from tests.powercut import fusefs

                fusefs.main(argv)
                code = 0
            finally:
                os._exit(code)
        os.close(command_read)
        os.close(answer_write)
        self.stdin = os.fdopen(command_write, "w")
        self.stdout = os.fdopen(answer_read)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout_s: float) -> bool:
        """Whether the child ended within `timeout_s` (it does once unmounted)."""
        deadline = time.monotonic() + timeout_s
        while self.poll() is None:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def kill(self) -> None:
        if self.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
            self.returncode = -signal.SIGKILL
