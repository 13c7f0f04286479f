"""One power-cut round on a terminal store: check-ins cut, restart, a drain cut, restart, drain.

Each round provisions a fresh device with the central server (its own chain, so rounds never
disturb each other's events there) on a freshly mounted empty power-loss filesystem.
"""

from __future__ import annotations

import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from central.db import tables
from sync.retry import RetryPolicy
from terminal.cli import cli
from terminal.config import load_config
from terminal.store import verify
from terminal.store.database import Store
from terminal.uploading.sync_service import SyncService
from tests.central.central_helpers import Admin
from tests.powercut import workload
from tests.powercut.powerfs import PowerFS

CHECK_INS = 6
PROCESS_TIMEOUT_S = 60.0


@dataclass
class Outcome:
    checkin_ops: int = 0  # changes made in the phase: the cut point when the power went in it
    drain_ops: int = 0
    checkin_cut: bool = False
    drain_cut: bool = False
    confirmed_in: set[str] = field(default_factory=set)
    confirmed_out: set[str] = field(default_factory=set)
    events: int = 0
    central_rows: int = 0


def forked(work: Callable[[Callable[[str], None]], None]) -> list[str]:
    """Run `work(report)` in a forked child (the power may go under it); the lines it reported.

    Forked, not a fresh interpreter: everything is imported already, so a round costs
    milliseconds instead of a second. The child ends at the first error, as a process whose
    disk vanished does; one that hangs is killed.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        code = 0
        try:
            work(lambda line: os.write(write_fd, (line + "\n").encode()))
        except BaseException:
            code = 1
        os._exit(code)
    os.close(write_fd)
    data = b""
    deadline = time.monotonic() + PROCESS_TIMEOUT_S
    try:
        while chunk := _read(read_fd, deadline):
            data += chunk
    finally:
        os.close(read_fd)
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    return data.decode().split("\n")[:-1]  # a line without its newline was never reported


def _read(fd: int, deadline: float) -> bytes:
    ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
    return os.read(fd, 65536) if ready else b""


def _drain(config_path: Path) -> Callable[[Callable[[str], None]], None]:
    def work(report: Callable[[str], None]) -> None:
        config = load_config(config_path)
        with Store.from_config(config) as store:
            service = SyncService(config, store, policy=RetryPolicy(initial_s=0.05, cap_s=0.2))
            try:
                service.drain()
            finally:
                service.close()
        report("drained")

    return work


def provision_on(mount: Path, admin: Admin, site: str) -> Path:
    config_path = mount / "terminal.toml"
    config_path.write_text(
        f'[store]\ndatabase = "{mount / "terminal.db"}"\n'
        f'[sync]\ncredential_file = "{mount / "credential.json"}"\n'
        f'state_file = "{mount / "sync-state.json"}"\nbackoff_cap_s = 1\n',
        "utf-8",
    )
    result = CliRunner().invoke(
        cli,
        [
            "provision",
            "--server",
            admin.url,
            "--token",
            admin.token(site),
            "--config",
            str(config_path),
            "--no-reader",  # the rounds drive the registry, not a reader
        ],
    )
    assert result.exit_code == 0, result.output
    Store.from_config(load_config(config_path), create=True).close()
    return config_path


def check_ins(config_path: Path, out: Outcome) -> None:
    for line in forked(lambda report: workload.check_ins(config_path, CHECK_INS, report)):
        kind, stay_id = line.split()
        (out.confirmed_in if kind == "in" else out.confirmed_out).add(stay_id)


def check_store(config_path: Path, out: Outcome) -> None:
    """Every confirmed registration is there, in its confirmed state; `store verify` passes."""
    result = CliRunner().invoke(cli, ["store", "verify", "--config", str(config_path)])
    assert result.exit_code == 0, result.output
    with Store.from_config(load_config(config_path)) as store, store.reader() as conn:
        assert verify.verify(conn) == []
        status = dict(conn.execute("SELECT stay_id, status FROM stay_view"))
        out.events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    lost = out.confirmed_in - status.keys()
    assert not lost, f"confirmed registrations lost: {sorted(lost)}"
    for stay_id in out.confirmed_out:
        assert status[stay_id] == "checked_out", f"confirmed check-out of {stay_id} lost"


def check_delivered(config_path: Path, admin: Admin, out: Outcome) -> None:
    """Every event acknowledged on the terminal, each stored exactly once centrally."""
    config = load_config(config_path)
    device = config.require_identity().device_id
    with Store.from_config(config) as store, store.reader() as conn:
        states = dict(conn.execute("SELECT state, count(*) FROM outbox GROUP BY state"))
        ids = {r[0] for r in conn.execute("SELECT event_id FROM events")}
    assert states == ({"acknowledged": len(ids)} if ids else {}), states
    t = tables.events
    with admin.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.event_id).where(t.c.device_id == device)).scalars().all()
        stays = set(conn.execute(sa.select(t.c.stay_id).where(t.c.device_id == device)).scalars())
        count = conn.execute(
            sa.select(sa.func.count()).select_from(t).where(t.c.device_id == device)
        ).scalar_one()
    assert count == len(rows) == len(set(rows)) == len(ids) and set(rows) == ids
    assert out.confirmed_in <= stays
    out.central_rows = count


def power_round(
    base: Path,
    admin: Admin,
    site: str,
    checkin_cut: int,
    drain_cut: int,
    *,
    reorder: bool = False,
    seed: int = 0,
) -> Outcome:
    out = Outcome()
    mount = base / "mnt"
    images = [base / f"image{n}" for n in range(4)]
    with PowerFS(images[0], mount, images[1], seed=seed, reorder=reorder) as fs:
        config_path = provision_on(mount, admin, site)
        fs.sync()
        start = fs.ops()
        fs.arm(checkin_cut)
        check_ins(config_path, out)
        out.checkin_ops = fs.ops() - start
        fs.cut()
        out.checkin_cut = out.checkin_ops == checkin_cut
    with PowerFS(images[1], mount, images[2], seed=seed + 1, reorder=reorder) as fs:
        check_store(config_path, out)
        fs.sync()  # the checks above may have recovered the WAL: that is not under test here
        start = fs.ops()
        fs.arm(drain_cut)
        forked(_drain(config_path))
        out.drain_ops = fs.ops() - start
        fs.cut()
        out.drain_cut = out.drain_ops == drain_cut
    with PowerFS(images[2], mount, images[3]) as fs:
        check_store(config_path, out)
        assert forked(_drain(config_path)) == ["drained"]
        check_delivered(config_path, admin, out)
        fs.cut()
    return out
