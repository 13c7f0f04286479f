"""`anju doctor`: every check a technician meets, each bounded by its own timeout, each fault
said with what to do.

A check is a function of the `Context` returning `Finding`s. `run` starts every check in a
daemon thread of its own and waits for each until its deadline: a check that hangs (a server
that accepts and never answers, an NFS-mounted store) becomes a "did not finish" finding of its
class and never holds the others or the exit back. Checks are independent, so they run at once
and the whole run lasts about as long as the slowest one.

Exit codes: 0 all well; otherwise the code of the first class, in this order, with a fault:

    10 settings     the settings file is invalid or unreadable
    11 credential   not provisioned, credential missing or unreadable by this user
    12 reader       reader absent, wrong port, port held, SAM fault; scanner absent
    13 services     a service not running, restarting, or a recorded fault
    14 server       server unreachable, TLS failure, server failing
    15 refused      the server refuses this terminal's credential or requests
    16 clock        clock not synchronised, implausible, rejected, or off from the server
    17 disk         disk space low on the store's filesystem
    18 store        store integrity, hash chain, sequence or projection faults
    19 backlog      backlog not moving, or rejected events waiting for a person
    20 files        private files other users can read
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from terminal.config import Config

if TYPE_CHECKING:
    from drivers.idcard.transport import Clock, Timeouts, Transport

ReaderOpener = Callable[[str, "int | None", "Timeouts"], "tuple[Transport, Clock]"]

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
CLASSES: dict[str, int] = {
    "settings": 10,
    "credential": 11,
    "reader": 12,
    "services": 13,
    "server": 14,
    "refused": 15,
    "clock": 16,
    "disk": 17,
    "store": 18,
    "backlog": 19,
    "files": 20,
}


@dataclass(frozen=True, slots=True)
class Finding:
    check: str  # a stable name: reader.port, server.credential, clock.sync ...
    klass: str  # a key of CLASSES: decides the exit code
    level: str  # OK | WARN | FAIL | SKIP
    what: str  # what is wrong (or what is right), in words
    todo: str = ""  # what to do about it
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["class"] = doc.pop("klass")
        return doc


@dataclass(slots=True)
class Context:
    """What every check may read; `config` is None when the settings are invalid."""

    config: Config | None
    database: Path | None
    config_error: str | None = None
    now: Callable[[], Any] | None = None  # an injected wall clock (tests: a stale clock)
    synchronised: bool | None = None  # an injected synchronisation state (tests)
    local_url: str | None = None  # the terminal service's page (its /local/health)
    systemd: bool | None = None  # None: detect (systemctl present and systemd running)
    server_timeout_s: float = 2.0
    # How the reader check reaches the reader: (port, baud or None, timeouts) -> a transport
    # and the clock its timeouts run on. None: pyserial on the port, in real time (tests: the
    # simulator's in-memory line, drivers/sim/link.py, whose silences cost no real seconds).
    open_reader: ReaderOpener | None = None
    shared: dict[str, Any] = field(default_factory=dict)  # results checks hand to each other
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    klass: str
    fn: Callable[[Context], list[Finding]]
    timeout_s: float


def run(checks: Iterable[Check], ctx: Context) -> list[Finding]:
    """Run every check at once, each bounded by its own timeout; findings in check order."""
    started = time.monotonic()
    slots: list[tuple[Check, threading.Thread, list[list[Finding]]]] = []
    for check in checks:
        box: list[list[Finding]] = []
        thread = threading.Thread(
            target=_guarded, args=(check, ctx, box), daemon=True, name=f"doctor-{check.name}"
        )
        thread.start()
        slots.append((check, thread, box))
    findings: list[Finding] = []
    for check, thread, box in slots:
        thread.join(max(0.0, started + check.timeout_s - time.monotonic()))
        if box:
            findings += box[0]
        else:  # still running: it is left behind (a daemon thread), never waited for
            findings.append(
                Finding(
                    check.name,
                    check.klass,
                    FAIL,
                    f"the {check.name} check did not finish within {check.timeout_s:g} s",
                    "something it depends on hangs; run the check's own command for details",
                )
            )
    return findings


def _guarded(check: Check, ctx: Context, box: list[list[Finding]]) -> None:
    try:
        box.append(check.fn(ctx))
    except Exception as err:  # a check's own bug must not hide the other checks
        box.append(
            [
                Finding(
                    check.name,
                    check.klass,
                    FAIL,
                    f"the check failed: {type(err).__name__}: {err}",
                    "report this to the developers with `anju doctor --json`",
                )
            ]
        )


def exit_code(findings: Iterable[Finding]) -> int:
    """0 when every finding is ok or skipped, else the first faulty class's code."""
    bad = {f.klass for f in findings if f.level in (WARN, FAIL)}
    for klass, code in CLASSES.items():
        if klass in bad:
            return code
    return 0


LAST_RUN_FILE = "doctor-last.json"  # beside the sync state file: the heartbeat reports it


def worst_class(findings: Iterable[Finding]) -> str | None:
    """The class whose code `exit_code` returns (None: all well): the heartbeat's
    `doctor_class`."""
    code = exit_code(findings)
    return next((k for k, c in CLASSES.items() if c == code), None)


def remember(config: Config, findings: list[Finding], checked_at: float) -> None:
    """Keep a full run's outcome (no texts: its class and the failing checks' names) for the
    sync service's heartbeat; a folder we may not write (doctor run as another user) is fine."""
    from sync.atomic_file import write_json_atomic

    path = Path(config["sync.state_file"]).parent / LAST_RUN_FILE
    doc = {"checked_at": checked_at, "class": worst_class(findings),
           "failing": sorted(f.check for f in findings if f.level in (WARN, FAIL))}
    with contextlib.suppress(OSError):
        write_json_atomic(path, doc, mode=0o644)


def last_run(config: Config) -> tuple[str, float] | None:
    """(worst class or "ok", Unix time) of the last full run, None when there is none."""
    import json

    path = Path(config["sync.state_file"]).parent / LAST_RUN_FILE
    try:
        doc = json.loads(path.read_text("utf-8"))
        return str(doc.get("class") or "ok"), float(doc["checked_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
