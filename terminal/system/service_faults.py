"""Service faults: what systemd gave up on, kept where `anju doctor` and the heartbeat can read.

A service that keeps failing (five times in ten minutes, or a settings error) enters systemd's
"failed" state; its `OnFailure=` starts anju-failure@<unit>.service, which runs `anju faults
record` with what systemd passes in the environment (MONITOR_UNIT, MONITOR_SERVICE_RESULT,
MONITOR_EXIT_CODE, MONITOR_EXIT_STATUS, MONITOR_INVOCATION_ID). The record is one small JSON
file in the state directory, not the registry database: the database may be the very thing that
failed (disk full, a broken card). Per unit: how many times, first and last time, the last
result; and the most recent RECENT faults in order. Written by terminal/system/atomic_file.py
(temp file, fsync, rename, fsync of the folder; mode 0640 so the services' group reads it), so a
power cut leaves the old or the new record. Nothing personal is ever in it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sync.atomic_file import fsync_dir, write_atomic
from sync.fields import format_utc

FILE_NAME = "service-faults.json"
RECENT = 20
FILE_MODE = 0o640  # the services' group reads it (doctor, the heartbeat)


@dataclass(frozen=True, slots=True)
class Fault:
    unit: str
    at: str  # UTC, ISO 8601
    result: str | None = None  # systemd's: exit-code, signal, watchdog, start-limit-hit, ...
    exit_code: str | None = None  # exited | killed | dumped
    exit_status: str | None = None  # the number, or the signal's name
    invocation_id: str | None = None


def path_in(directory: Path) -> Path:
    return directory / FILE_NAME


def load(directory: Path) -> dict[str, Any]:
    """{"units": {unit: {count, first_at, last_at, last}}, "recent": [fault, ...]}."""
    try:
        doc = json.loads(path_in(directory).read_text("utf-8"))
    except (OSError, ValueError):
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    units = doc.get("units") if isinstance(doc.get("units"), dict) else {}
    recent = doc.get("recent") if isinstance(doc.get("recent"), list) else []
    return {"units": units, "recent": recent}


def record(directory: Path, fault: Fault) -> dict[str, Any]:
    """Add `fault` to the record (a damaged record is started afresh, never a reason to fail)."""
    doc = load(directory)
    entry = asdict(fault)
    previous = doc["units"].get(fault.unit) or {}
    doc["units"][fault.unit] = {
        "count": int(previous.get("count", 0)) + 1,
        "first_at": previous.get("first_at", fault.at),
        "last_at": fault.at,
        "last": entry,
    }
    doc["recent"] = [*doc["recent"], entry][-RECENT:]
    data = (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    write_atomic(path_in(directory), data, mode=FILE_MODE)
    return doc


def clear(directory: Path) -> bool:
    """Forget every recorded fault (after the technician dealt with them)."""
    try:
        path_in(directory).unlink()
    except FileNotFoundError:
        return False
    fsync_dir(directory)
    return True


def now_utc() -> str:
    return format_utc(datetime.now(UTC))
