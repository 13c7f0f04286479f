"""A PostgreSQL primary with a synchronous streaming standby, for tests and benches, started
beside the machine's own PostgreSQL: ports of its own, a temp dir, as `postgres` when run by
root (PostgreSQL refuses to run as root), no service manager involved.

    with PgPair.start(tmp) as pair:
        pair.url              # both nodes, libpq multi-host, target_session_attrs=read-write
        pair.primary.freeze() # SIGSTOP every process of the node: hung, sockets still open
        pair.primary.kill()   # SIGKILL: lost
        promote(pair.standby) # deploy/ha/promote-standby.sh

        pair.rebuild_standby() # the lost node wiped and made the new primary's standby

Each node is a postmaster started here (`postgres -D`, not pg_ctl) whose children are found in
/proc, so freezing, killing and stopping reach all of its processes and nothing outlives `stop()`.
A process runs `initdb` once and copies its cluster for every primary (`initdb` costs ~0.8 s of
CPU, a copy ~0.1 s); each standby is a `pg_basebackup` of its primary, as in production.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tests.central.serverproc import free_port

PG_BIN = Path(os.environ.get("ANJU_PG_BIN", "/usr/lib/postgresql/15/bin"))
STARTUP_TIMEOUT_S = 60.0
DATABASE = "anju"
STANDBY_NAME = "standby1"
PROMOTE_SCRIPT = Path(__file__).parents[1] / "deploy" / "ha" / "promote-standby.sh"


class PgPairUnavailable(Exception):
    """No PostgreSQL binaries here: tests skip with this reason."""


def _run_as() -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    user = pwd.getpwnam("postgres")
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


_TEMPLATE: list[Path] = []  # this process's initdb'd cluster, copied for every primary


def _initdb_template(run_as: dict[str, Any]) -> Path:
    """A cluster made by `initdb` once per process (removed at exit), never started itself."""
    if not _TEMPLATE:
        base = Path(tempfile.mkdtemp(prefix="anju-pgtemplate-"))
        atexit.register(shutil.rmtree, base, ignore_errors=True)
        if run_as:
            os.chown(base, run_as["user"], run_as["group"])
        _run(base, run_as, str(PG_BIN / "initdb"), "-D", str(base / "data"), "-U", "postgres",
             "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        _TEMPLATE.append(base / "data")
    return _TEMPLATE[0]


def _run(cwd: Path, run_as: dict[str, Any], *command: str) -> None:
    done = subprocess.run(
        command, capture_output=True, timeout=STARTUP_TIMEOUT_S, cwd=cwd, **run_as
    )
    if done.returncode:
        raise RuntimeError(f"{command[0]}: {done.stderr.decode()[-2000:]}")


@dataclass
class PgNode:
    name: str
    datadir: Path
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def conninfo(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={DATABASE} connect_timeout=3"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def log_path(self) -> Path:
        return self.datadir.parent / f"{self.name}.log"

    def start(self) -> PgNode:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [str(PG_BIN / "postgres"), "-D", str(self.datadir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                cwd=self.datadir.parent,
                **_run_as(),
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_path.read_text()[-2000:]}")
            try:
                with psycopg.connect(self.conninfo.replace(DATABASE, "postgres")):
                    return self
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready: {self.log_path.read_text()[-2000:]}")

    def query(self, sql: str, params: tuple[Any, ...] = (), dbname: str = DATABASE) -> list[Any]:
        with psycopg.connect(self.conninfo.replace(DATABASE, dbname), autocommit=True) as conn:
            cur = conn.execute(sql, params)  # type: ignore[arg-type]  # test SQL, no user input
            return cur.fetchall() if cur.description else []

    def _signal_group(self, sig: signal.Signals) -> None:
        """The postmaster first (stopped, it forks nothing new), then its children, which
        PostgreSQL puts in sessions of their own (so no process group reaches them all)."""
        if self.process is None or self.process.poll() is not None:
            return
        # Listed before the postmaster is signalled too: killed, it takes its list of children
        # with it (they pass to init), and stopped ones would then stay stopped for good.
        before = set(_children(self.process.pid))
        os.kill(self.process.pid, sig)
        for pid in before | set(_children(self.process.pid)):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def freeze(self) -> None:
        """Every process of the node stopped: TCP still answered by the kernel, SQL never."""
        self._signal_group(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal_group(signal.SIGCONT)

    def kill(self) -> None:
        """The machine lost: SIGKILL to every process of the node."""
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.thaw()
            self._signal_group(signal.SIGINT)  # fast shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.process.wait(timeout=20)
        self.process = None


@dataclass
class PgPair:
    base: Path
    primary: PgNode
    standby: PgNode

    @property
    def url(self) -> str:
        """Both nodes: libpq tries them in order and keeps the one that accepts writes."""
        return (
            f"postgresql+psycopg://postgres@/{DATABASE}?host=127.0.0.1:{self.primary.port}"
            f"&host=127.0.0.1:{self.standby.port}&target_session_attrs=read-write"
        )

    @classmethod
    def start(cls, synchronous: bool = True) -> PgPair:
        if not (PG_BIN / "initdb").exists():
            raise PgPairUnavailable(f"no PostgreSQL binaries in {PG_BIN} (set ANJU_PG_BIN)")
        base = Path(tempfile.mkdtemp(prefix="anju-pgpair-"))
        run_as = _run_as()
        if run_as:
            os.chown(base, run_as["user"], run_as["group"])
        pair = cls(
            base,
            PgNode("db1", base / "db1", free_port()),  # the primary first
            PgNode("db2", base / "db2", free_port()),
        )
        try:
            pair._build(run_as, synchronous)
        except BaseException:
            pair.stop()
            raise
        return pair

    def _build(self, run_as: dict[str, Any], synchronous: bool) -> None:
        primary = self.primary
        _run(self.base, run_as, "cp", "-a", str(_initdb_template(run_as)), str(primary.datadir))
        with open(primary.datadir / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {primary.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.base}'\nwal_level = replica\n"
                "max_wal_senders = 4\nmax_replication_slots = 4\nhot_standby = on\n"
                "shared_buffers = 32MB\nmax_connections = 120\n"
                # Segments in the data directory (removed with it), not in /dev/shm: a node
                # the drills SIGKILL never removes its own, and they piled up there.
                "dynamic_shared_memory_type = mmap\n"
            )
        primary.start()
        primary.query(f"CREATE DATABASE {DATABASE}", dbname="postgres")
        self._attach_standby(run_as, synchronous)

    def _attach_standby(self, run_as: dict[str, Any], synchronous: bool) -> None:
        """`pg_basebackup` of the primary into the standby's (empty) directory, started
        streaming; then, if `synchronous`, every commit waits for it."""
        primary, standby = self.primary, self.standby
        _run(
            self.base,
            run_as,
            str(PG_BIN / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(primary.port),
            "-U",
            "postgres",
            "-D",
            str(standby.datadir),
            "-X",
            "stream",
            "-C",
            "-S",
            "anju_standby",
            "-R",
            "--no-sync",
            "--checkpoint=fast",
        )
        with open(standby.datadir / "postgresql.auto.conf", "a") as conf:
            conf.write(
                f"port = {standby.port}\nprimary_conninfo = 'host=127.0.0.1 "
                f"port={primary.port} user=postgres application_name={STANDBY_NAME}'\n"
            )
        standby.start()
        self._wait_streaming()
        if synchronous:
            # On the primary only (ALTER SYSTEM is not replicated): the promoted standby
            # runs alone, without waiting for a standby it does not have.
            primary.query(f"ALTER SYSTEM SET synchronous_standby_names = '{STANDBY_NAME}'")
            primary.query("ALTER SYSTEM SET synchronous_commit = 'on'")
            primary.query("SELECT pg_reload_conf()")
            self._wait_streaming("sync")

    def standby_promoted(self) -> bool:
        return self.standby.query("SELECT pg_is_in_recovery()") == [(False,)]

    def rebuild_standby(self, synchronous: bool = True) -> None:
        """After a failover (the standby promoted, the primary lost): the lost node, fenced for
        good, is wiped and made the new primary's standby with `pg_basebackup` on its own port
        (docs/operations.md, "Rebuild a standby"); the roles swap, so `primary` is the promoted
        node and `standby` the rebuilt one. The next failover goes back."""
        lost, promoted = self.primary, self.standby
        assert self.standby_promoted(), "no failover happened: nothing to rebuild"
        lost.kill()
        lost.process = None
        shutil.rmtree(lost.datadir)
        self.primary, self.standby = promoted, lost
        self._attach_standby(_run_as(), synchronous)

    def _wait_streaming(self, sync_state: str | None = None) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            rows = self.primary.query(
                "SELECT state, sync_state FROM pg_stat_replication WHERE application_name = %s",
                (STANDBY_NAME,),
            )
            if rows and rows[0][0] == "streaming" and sync_state in (None, rows[0][1]):
                return
            time.sleep(0.1)
        raise RuntimeError(f"standby not streaming ({sync_state}): {self.standby.log_path}")

    def __enter__(self) -> PgPair:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        for node in (self.standby, self.primary):
            node.stop()
        shutil.rmtree(self.base, ignore_errors=True)


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                found.append(int(entry.name))
    return found


def promote(node: PgNode, timeout_s: int = 60) -> str:
    """The documented procedure (docs/operations.md): deploy/ha/promote-standby.sh."""
    done = subprocess.run(
        ["sh", str(PROMOTE_SCRIPT), node.conninfo, str(timeout_s)],
        capture_output=True,
        text=True,
        timeout=timeout_s + 10,
    )
    if done.returncode:
        raise RuntimeError(f"promote-standby.sh failed: {done.stderr}")
    return done.stdout
