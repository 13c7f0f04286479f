"""Replacing a terminal and retiring one (docs/handover.md).

    export_bundle(db, credentials, ...)   the old device's undelivered events, signed by it
    import_bundle(doc, client)            the replacement delivers them under the old identity
    undelivered(db), erase(paths)         what `anju wipe` checks and destroys

The export only reads the store (read-only connections: it also works on an SD card mounted on
a laptop) and writes nothing but the hand-over file. `erase` overwrites each file with zeros,
fsyncs, and unlinks it; on flash media that is not a guarantee (docs/handover.md says why).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.atomic_file import fsync_dir
from sync.body import split_batches
from sync.client import Credentials, SyncClient
from sync.handover import bundle, parts
from sync.protocol import Limits
from terminal.errors import ConfigError
from terminal.store import outbox, queries
from terminal.store.database import ReadOnlyStore
from terminal.store.outbox import StoreOutbox

ALL = 10**12


@dataclass
class Exported:
    doc: dict[str, Any]
    events: int
    parts: int
    rejected: int


def export_bundle(
    path: Path, credentials: Credentials, *, exported_at: str, max_events: int, max_bytes: int
) -> Exported:
    store = ReadOnlyStore(path)
    with store.reader() as conn:
        owners = queries.device_ids(conn)
        rejected = [
            {"event_id": event_id, "code": code, "message": message}
            for event_id, code, message in outbox.rejected_events(conn)
        ]
    if owners - {credentials.device_id}:
        raise ConfigError(
            f"the store holds events of {sorted(owners)}, the credential is "
            f"{credentials.device_id}'s: wrong --config or --store",
            "数据库与凭据不属于同一台终端",
        )
    events = StoreOutbox(store).pending(ALL, ALL)  # type: ignore[arg-type]
    limits = Limits(max_events=max_events, max_body_bytes=max_bytes, max_decoded_bytes=max_bytes)
    batches = list(split_batches(events, limits))  # each part fits one upload request
    doc = bundle(
        credentials.device_id,
        credentials.site_code,
        credentials.secret,
        exported_at,
        [[e.to_json() for e in b] for b in batches],
        rejected,
    )
    return Exported(doc, sum(e.withheld is None for e in events), len(batches), len(rejected))


@dataclass
class Imported:
    device_id: str
    accepted: int = 0
    duplicate: int = 0
    rejected: list[tuple[str | None, str | None, str | None]] = field(default_factory=list)


def import_bundle(doc: Any, client: SyncClient) -> Imported:
    found = parts(doc)
    result = Imported(str(doc.get("device_id")))
    for part in found:
        answer = client.hand_over(part)
        for r in answer.results:
            if r.status == "accepted":
                result.accepted += 1
            elif r.status == "duplicate":
                result.duplicate += 1
            else:
                result.rejected.append((r.event_id, r.code, r.message))
    return result


def exported_ids(doc: Any) -> set[str]:
    return {str(e.get("event_id")) for p in parts(doc) for e in p.events}


def undelivered(path: Path) -> set[str]:
    """Events not yet acknowledged by the server (queued or sent)."""
    with ReadOnlyStore(path).reader() as conn:
        return outbox.undelivered_ids(conn)


def store_files(path: Path) -> list[Path]:
    """The database, its WAL and index, and the backups `store migrate` left beside it."""
    return [
        path,
        path.with_name(path.name + "-wal"),
        path.with_name(path.name + "-shm"),
        *sorted(path.parent.glob(f"{path.name}.v*.bak")),
    ]


def erase(paths: Sequence[Path]) -> list[Path]:
    """Overwrite each existing file with zeros, fsync, unlink, fsync its folder."""
    erased = []
    for path in paths:
        try:
            fd = os.open(path, os.O_WRONLY)
        except FileNotFoundError:
            continue
        try:
            size = os.fstat(fd).st_size
            zeros = b"\0" * 65536
            done = 0
            while done < size:
                done += os.write(fd, zeros[: min(len(zeros), size - done)])
            os.fsync(fd)
        finally:
            os.close(fd)
        os.unlink(path)
        fsync_dir(path.parent)
        erased.append(path)
    return erased
