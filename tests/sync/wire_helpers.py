"""Builders for wire events: a device's chain of events, hashed exactly as the terminal does
(sync/chain.py), without a terminal store; plus tampering helpers for fault tests."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from sync.chain import GENESIS, canonical_json, chain_hash, sha256_hex
from sync.fields import format_utc
from sync.protocol import WireEvent

START = datetime(2025, 3, 1, 2, 0, tzinfo=UTC)


def new_id() -> str:
    return str(uuid.uuid4())


def guest(name: str = "张三", number: str = "440104199005170011", role: str = "main",
          **extra: Any) -> dict[str, Any]:
    return {"guest_id": new_id(), "role": role, "name": name, "nationality": "CHN",
            "document": {"type_code": "11", "number": number}, **extra}


class EventChain:
    """Sequential events of one device: sequence, previous chain hash and clocks advance."""

    def __init__(self, device_id: str, site_code: str, *, boot_id: str = "boot-1",
                 synchronised: bool = True, wall: datetime = START,
                 monotonic_ns: int = 5_000_000_000, ids: Callable[[], str] = new_id) -> None:
        self.device_id = device_id
        self.ids = ids  # event and stay ids (bench/bench_ingest_scale.py: the terminal's UUIDv7)
        self.site_code = site_code
        self.boot_id = boot_id
        self.synchronised = synchronised
        self.wall = wall
        self.monotonic_ns = monotonic_ns
        self.sequence = 0
        self.previous = GENESIS
        self.events: list[WireEvent] = []

    def event(self, kind: str, stay_id: str, data: dict[str, Any], *,
              target_event_id: str | None = None, operator: str = "0007") -> WireEvent:
        self.sequence += 1
        self.wall += timedelta(seconds=1)
        self.monotonic_ns += 1_000_000_000
        header = {
            "event_id": self.ids(), "device_id": self.device_id, "site_code": self.site_code,
            "sequence": self.sequence, "kind": kind, "stay_id": stay_id,
            "target_event_id": target_event_id, "wall_time": format_utc(self.wall),
            "clock_synchronised": self.synchronised, "monotonic_ns": self.monotonic_ns,
            "boot_id": self.boot_id, "operator": operator,
        }
        payload = canonical_json({**header, "data": data})
        payload_hash = sha256_hex(payload)
        chained = chain_hash(self.sequence, self.previous, payload_hash)
        event = WireEvent(**header, payload=payload, payload_sha256=payload_hash,
                          prev_chain_sha256=self.previous, chain_sha256=chained)
        self.previous = chained
        self.events.append(event)
        return event

    def check_in(self, room: str = "101", guests: list[dict[str, Any]] | None = None
                 ) -> WireEvent:
        return self.event("check_in", self.ids(), {"room": room, "guests": guests or [guest()]})

    def check_out(self, check_in: WireEvent) -> WireEvent:
        data = _data(check_in)
        return self.event("check_out", check_in.stay_id,
                          {"guest_ids": [g["guest_id"] for g in data["guests"]]})

    def stays(self, count: int) -> list[WireEvent]:
        """`count` check-ins, each of a different guest."""
        return [self.check_in(room=str(100 + i), guests=[guest(
            name=f"王{i}", number=f"44010419900517{i:04d}")]) for i in range(count)]


def _data(event: WireEvent) -> dict[str, Any]:
    import json

    assert event.payload is not None
    return json.loads(event.payload)["data"]


def with_payload(event: WireEvent, payload: str, *, rehash: bool) -> WireEvent:
    """The event with a different payload; `rehash` recomputes its payload hash (not chain)."""
    changes: dict[str, Any] = {"payload": payload}
    if rehash:
        changes["payload_sha256"] = sha256_hex(payload)
    return dataclasses.replace(event, **changes)
