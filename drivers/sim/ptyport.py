"""A pseudo-terminal standing in for a USB-serial reader, behind a stable symlink.

    host (pyserial) ──opens──> <link dir>/usb-anju-sim-idcard ──symlink──> /dev/pts/N (slave)
                                                                              │ kernel tty
    simulator thread <──────────────── non-blocking master fd ────────────────┘

* The slave is put in raw mode so every byte passes unchanged; the simulator also keeps its own
  slave fd open, so the master never reads EIO just because the host closed the port between
  probes (a real UART does not notice that either).
* A pty has no wire, but its termios does carry the rate the host configured: pyserial sets
  it on the slave and `tcgetattr` on the master reads the same settings (Linux). `host_baud()`
  returns it (0 for a non-standard rate), or None when termios cannot be read at all.
* Unplug = close both fds and remove the link: the host's next read fails (EIO or EOF), its
  writes fail, and opening the link fails until re-plug. Re-plug
  opens a NEW pty (the old number stays busy while the host holds it, so the path changes,
  as USB re-enumeration does) and atomically re-points the symlink, as udev does for
  /dev/serial/by-id.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import shutil
import tempfile
import termios
import time
import tty
from pathlib import Path

LINK_NAME = "usb-anju-sim-idcard"

# termios speed constant -> bits per second, for every rate this platform defines.
_SPEEDS: dict[int, int] = {
    getattr(termios, name): int(name[1:])
    for name in dir(termios)
    if name.startswith("B") and name[1:].isdigit()
}


class PtyPort:
    """Owns the pty pair and the symlink; not thread-safe (the simulator thread drives it)."""

    def __init__(
        self, link_dir: str | os.PathLike[str] | None = None, link_name: str = LINK_NAME
    ) -> None:
        # Our own temp dir is removed on close; a caller-given dir is left alone (only the link).
        self._own_dir = link_dir is None
        directory = tempfile.mkdtemp(prefix="anju-sim-") if link_dir is None else link_dir
        self.link = Path(directory) / link_name
        self.master: int | None = None
        self._slave: int | None = None
        self.device: str | None = None  # current /dev/pts/N
        self.plug()

    @property
    def plugged(self) -> bool:
        return self.master is not None

    def plug(self) -> None:
        if self.master is not None:
            return
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            os.set_blocking(master, False)
            device = os.ttyname(slave)
            temporary = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
            with contextlib.suppress(FileNotFoundError):
                temporary.unlink()
            temporary.symlink_to(device)
            os.replace(temporary, self.link)  # atomic: a host never sees a missing link mid-swap
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        self.master, self._slave, self.device = master, slave, device

    def unplug(self) -> None:
        """Close the pty and remove the link, as udev removes a by-id link on unplug."""
        for fd in (self.master, self._slave):
            if fd is not None:
                os.close(fd)
        self.master = self._slave = None
        self.device = None
        with contextlib.suppress(FileNotFoundError):
            self.link.unlink()

    def close(self) -> None:
        self.unplug()
        if self._own_dir:
            shutil.rmtree(self.link.parent, ignore_errors=True)

    def host_baud(self) -> int | None:
        """The rate the host configured (0 if not a standard rate); None if unreadable."""
        if self.master is None:
            return None
        try:
            speed = termios.tcgetattr(self.master)[5]  # ospeed: pyserial sets both the same
        except termios.error:
            return None
        return _SPEEDS.get(speed, 0)

    def wait_readable(self, timeout: float) -> bool:
        if self.master is None:
            time.sleep(timeout)
            return False
        poller = select.poll()
        poller.register(self.master, select.POLLIN)
        return bool(poller.poll(timeout * 1000))

    def read(self) -> bytes:
        if self.master is None:
            return b""
        try:
            return os.read(self.master, 4096)
        except BlockingIOError:
            return b""
        except OSError as err:
            if err.errno == errno.EIO:  # no slave fd open at all: nothing to read
                return b""
            raise

    def write(self, data: bytes, deadline: float) -> bool:
        """Write everything before `deadline` (monotonic); False if the host stopped reading.

        A real UART never blocks: bytes nobody reads are simply lost. Here the pty buffer fills
        up instead, so give up at the deadline rather than hang the simulator thread.
        """
        view = memoryview(data)
        while view:
            if self.master is None:
                return False
            try:
                written = os.write(self.master, view)
            except BlockingIOError:
                written = 0
            view = view[written:]
            if view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                poller = select.poll()
                poller.register(self.master, select.POLLOUT)
                poller.poll(min(remaining, 0.05) * 1000)
        return True
