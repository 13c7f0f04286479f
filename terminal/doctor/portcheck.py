"""Why a serial port cannot be opened, in words a technician can act on.

"cannot open /dev/ttyUSB0: [Errno 2]" says nothing about what to do. `diagnose` looks at the
port: missing (which stable names under /dev/serial/by-id/ and which ttyUSB/ttyACM exist),
not permitted (the dialout group), or held by another process (which one; the terminal
service above all, found through /proc: its open files when we may read them, else its
command line or its systemd unit, which every user may read).
"""

from __future__ import annotations

import grp
import os
from dataclasses import dataclass
from pathlib import Path

SERVICE_UNIT = "anju-terminal.service"
BY_ID = Path("/dev/serial/by-id")
PROC = Path("/proc")


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    command: str
    is_service: bool  # the terminal service (its unit, or `anju terminal run`)


@dataclass(frozen=True, slots=True)
class Diagnosis:
    cause: str  # missing | permission | in_use | in_use_by_service | other
    english: str
    chinese: str
    holders: tuple[Holder, ...] = ()


def candidates(dev: Path = Path("/dev")) -> list[str]:
    """Serial devices a reader may be: stable names first, then the kernel's."""
    by_id = dev / "serial" / "by-id"
    stable = sorted(str(p) for p in by_id.iterdir()) if by_id.is_dir() else []
    kernel = sorted(str(p) for pattern in ("ttyUSB*", "ttyACM*") for p in dev.glob(pattern))
    return stable + kernel


def _command(pid_dir: Path) -> str:
    try:
        raw = (pid_dir / "cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip()


def _is_service(pid_dir: Path, command: str) -> bool:
    try:
        if SERVICE_UNIT in (pid_dir / "cgroup").read_text("utf-8", "replace"):
            return True
    except OSError:
        pass
    return " terminal run" in command and ("anju" in command or "terminal.cli" in command)


def holders(port: str, proc: Path = PROC) -> tuple[list[Holder], list[Holder]]:
    """(processes seen holding `port` open, terminal service processes). Another user's open
    files are not ours to read, so the second list names the likely holder when a lock says
    the port is taken but no visible process has it."""
    try:
        target = os.path.realpath(port)
    except OSError:
        return [], []
    found: list[Holder] = []
    services: list[Holder] = []
    me = os.getpid()
    for pid_dir in proc.glob("[0-9]*"):
        pid = int(pid_dir.name)
        if pid == me:
            continue
        command = _command(pid_dir)
        holder = Holder(pid, command, _is_service(pid_dir, command))
        if holder.is_service:
            services.append(holder)
        try:
            fds = list((pid_dir / "fd").iterdir())
        except OSError:
            continue  # another user's process: only its command line and unit are visible
        for fd in fds:
            try:
                if os.readlink(fd) == target:
                    found.append(holder)
                    break
            except OSError:
                continue
    return found, services


def diagnose(port: str, error: str, *, proc: Path = PROC, dev: Path = Path("/dev")) -> Diagnosis:
    if "://" in port:
        return Diagnosis("other", error, error)
    if not os.path.exists(port):
        others = ", ".join(candidates(dev)) or "none"
        en = (
            f"{port} does not exist. Serial devices present: {others}. Set reader.port "
            f"(prefer a /dev/serial/by-id/ name: stable across re-plugging) or check the "
            f"reader's USB cable."
        )
        zh = (
            f"{port} 不存在。现有串口设备：{others}。请设置 reader.port"
            "（建议用 /dev/serial/by-id/ 下的名称），或检查读卡器 USB 线。"
        )
        return Diagnosis("missing", en, zh)
    if "Errno 13" in error or not os.access(port, os.R_OK | os.W_OK):
        return _permission(port)
    seen, services = holders(port, proc)
    locked = any(w in error.lower() for w in ("lock", "busy", "temporarily unavailable"))
    if not (seen or locked):
        return Diagnosis("other", error, error)
    held = seen or services  # a lock with no visible holder: most likely the service
    service = [h for h in held if h.is_service]
    if service:
        pids = ", ".join(str(h.pid) for h in service)
        en = (
            f"{port} is in use by the terminal service (pid {pids}): the reader is there, "
            "this command may not share it. The front-desk page shows the reader's state; "
            "to talk to the reader directly: sudo systemctl stop anju-terminal."
        )
        zh = (
            f"{port} 正被登记服务占用（进程 {pids}）：读卡器在，本命令不能同时使用。"
            "读卡器状态见前台页面；如需直接访问，请先 sudo systemctl stop anju-terminal。"
        )
        return Diagnosis("in_use_by_service", en, zh, tuple(service))
    who = (
        "; ".join(f"pid {h.pid} {h.command[:60]}" for h in held)
        or "another process (run as root to see which)"
    )
    en = f"{port} is in use by {who}: stop it first."
    zh = f"{port} 正被其他进程占用（{who}），请先停止它。"
    return Diagnosis("in_use", en, zh, tuple(held))


def _permission(port: str) -> Diagnosis:
    try:
        group = grp.getgrgid(os.stat(port).st_gid).gr_name
    except (KeyError, OSError):
        group = "dialout"
    en = (
        f"no permission to open {port} (group {group}): add this user to it "
        f"(sudo usermod -aG {group} $USER) and log in again; the service's user `anju` "
        "is in it already."
    )
    zh = (
        f"无权打开 {port}（属组 {group}）：请把当前用户加入该组"
        f"（sudo usermod -aG {group} $USER）后重新登录。"
    )
    return Diagnosis("permission", en, zh)
