"""What the status bar reports: reader, server, backlog, clock, disk, as plain values.

Gathered by the front desk (`TerminalService.health`, cheap reads: an index count, statvfs,
adjtimex) for every status tick of every open page; terminal/web/status.py words it.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.idcard.state import ReaderState


@dataclass(frozen=True, slots=True)
class Health:
    reader_state: ReaderState
    reader_sam_id: str | None
    server_reachable: bool | None  # None: not provisioned or not probed yet
    backlog: int
    oldest_age_s: float | None
    rejected: int
    clock_synchronised: bool
    disk_free_bytes: int
    disk_min_bytes: int
    clock_plausible: bool = True  # not before the release date or the newest event (clock.py)
    # Why the uploader's last request was refused when a person must act (sync.diagnosis code:
    # credential_refused, clock_rejected, tls, refused); None when it was answered or is only
    # waiting for the network. The server is "reachable" only if it accepts this terminal.
    server_refusal: str | None = None
