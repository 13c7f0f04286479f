"""Events: the append-only records a stay is folded from, and how each is hashed and chained.

    payload      = canonical JSON of {header fields..., "data": kind-specific body}
                   (sorted keys, no spaces, UTF-8, ensure_ascii=False: names stay Unicode)
    payload_hash = SHA-256(payload)                                  hex, 64 chars
    chain_hash   = SHA-256("{sequence}\\n{previous chain_hash}\\n{payload_hash}")
                   previous chain_hash of sequence 1 is GENESIS ("0" * 64)

The chain covers the payload only through its hash, so purging a payload (retention) keeps
every chain hash verifiable. The header fields are inside the payload, so while the payload
exists a changed column (time, room, kind) is detected too.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any

# The hash construction is shared with the central server: it lives in sync/chain.py.
from sync.chain import GENESIS, canonical_json, chain_hash, sha256_hex

__all__ = ["GENESIS", "Event", "Kind", "canonical_json", "chain_hash", "sha256_hex"]


class Kind(enum.StrEnum):
    CHECK_IN = "check_in"
    ADD_GUEST = "add_guest"
    CHECK_OUT = "check_out"
    AMEND = "amend"
    VOID = "void"
    CHECK_OUT_UNDONE = "check_out_undone"  # a check-out taken back (target: the check-out)


@dataclass(frozen=True, slots=True)
class Event:
    event_id: str  # UUIDv7
    device_id: str
    site_code: str
    sequence: int  # per device, from 1, no gaps
    kind: Kind
    stay_id: str
    target_event_id: str | None  # amend / void / undo: the event they correct
    wall_time: str  # UTC, sync.fields.format_utc
    clock_synchronised: bool
    monotonic_ns: int
    boot_id: str
    operator: str  # the clerk's staff number
    data: dict[str, Any] | None  # None once purged

    def header(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "device_id": self.device_id,
            "site_code": self.site_code,
            "sequence": self.sequence,
            "kind": self.kind.value,
            "stay_id": self.stay_id,
            "target_event_id": self.target_event_id,
            "wall_time": self.wall_time,
            "clock_synchronised": self.clock_synchronised,
            "monotonic_ns": self.monotonic_ns,
            "boot_id": self.boot_id,
            "operator": self.operator,
        }

    def payload(self) -> str:
        if self.data is None:
            raise ValueError(f"event {self.event_id} was purged: no payload")
        return canonical_json({**self.header(), "data": self.data})

    @classmethod
    def from_payload(cls, payload: str) -> Event:
        doc = json.loads(payload)
        return cls(**{**doc, "kind": Kind(doc["kind"])})

