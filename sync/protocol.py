"""Wire protocol v1: events, batches, per-event answers and limits (docs/protocol.md).

Plain dataclasses with `to_json()` / `from_json()`, no third-party model library, so the
terminal's uploader stays small. `from_json` checks every field and raises ProtocolError (or
InvalidEventError for one event) naming the field; the server answers one bad event with
`rejected` and still stores the others.

    POST /api/v1/events    body = gzip(JSON Batch), Content-Encoding: gzip
    Batch  {"protocol": 1, "device_id", "site_code", "clock": SenderClock, "events": [WireEvent]}
    answer {"protocol": 1, "server_time", "clock_offset_ms", "results": [EventResult]}
           results[i] answers events[i]
"""

from __future__ import annotations

import json
import operator
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

from sync.chain import GENESIS, chain_hash, sha256_hex
from sync.errors import InvalidEventError, ProtocolError
from sync.fields import SHA256_RE, TIME_RE, UUID_RE, Fields, format_utc, parse_utc, text_problem

PROTOCOL_VERSION = 1
KINDS = ("check_in", "add_guest", "check_out", "amend", "void", "check_out_undone")
# these, and only these, name the event they correct (check_out_undone: the check-out it undoes)
TARGETED_KINDS = ("amend", "void", "check_out_undone")
WITHHELD_REASONS = ("purged", "superseded")  # why an event travels without its payload
HEADER_FIELDS = ("event_id", "device_id", "site_code", "sequence", "kind", "stay_id",
                 "target_event_id", "wall_time", "clock_synchronised", "monotonic_ns", "boot_id",
                 "operator")

ACCEPTED = "accepted"  # stored now
DUPLICATE = "duplicate"  # stored before with the same hashes: counts as delivered
REJECTED = "rejected"  # not stored: set aside on the terminal with code, field and message
STATUSES = (ACCEPTED, DUPLICATE, REJECTED)


@dataclass(frozen=True, slots=True)
class Limits:
    """What the server accepts; a request beyond any of these is answered 413."""

    max_events: int = 500  # events in one batch
    max_body_bytes: int = 2 * 1024 * 1024  # request body as sent (gzip)
    max_decoded_bytes: int = 8 * 1024 * 1024  # request body after gunzip
    max_event_bytes: int = 64 * 1024  # one event's payload, UTF-8

    def to_json(self) -> dict[str, int]:
        return {"max_events": self.max_events, "max_body_bytes": self.max_body_bytes,
                "max_decoded_bytes": self.max_decoded_bytes,
                "max_event_bytes": self.max_event_bytes}


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class SenderClock:
    """The sender's clocks read when the request is built (each attempt reads them anew).

    The server measures the device's clock offset from `wall_time` (raw, uncorrected) and
    anchors the boot's monotonic clock to its own time, which corrects events recorded while
    the wall clock was not synchronised.
    """

    wall_time: str
    synchronised: bool
    monotonic_ns: int
    boot_id: str

    @classmethod
    def system(cls, synchronised: bool = False,
               boot_id_path: Path = Path("/proc/sys/kernel/random/boot_id")) -> SenderClock:
        try:
            boot_id = boot_id_path.read_text("ascii").strip() or "unknown"
        except OSError:
            boot_id = "unknown"
        return cls(format_utc(datetime.now(UTC)), synchronised, time.monotonic_ns(), boot_id)

    def to_json(self) -> dict[str, Any]:
        return {"wall_time": self.wall_time, "synchronised": self.synchronised,
                "monotonic_ns": self.monotonic_ns, "boot_id": self.boot_id}

    @classmethod
    def from_json(cls, doc: Any, where: str = "clock.") -> SenderClock:
        f = Fields(doc, where=where)
        return cls(f.time("wall_time"), f.boolean("synchronised"),
                   f.integer("monotonic_ns", minimum=0), f.text("boot_id", max_len=64))


@dataclass(frozen=True, slots=True)
class WireEvent:
    """One terminal event as stored: header, canonical payload text and the three hashes.

    `payload` is the exact canonical JSON text whose SHA-256 is `payload_sha256` (never
    re-serialised in between). It is None only for an event that is `withheld` (purged or
    superseded on the terminal): the header and hashes still travel, so the chain verifies.
    """

    event_id: str
    device_id: str
    site_code: str
    sequence: int
    kind: str
    stay_id: str
    target_event_id: str | None
    wall_time: str
    clock_synchronised: bool
    monotonic_ns: int
    boot_id: str
    operator: str
    payload: str | None
    payload_sha256: str
    prev_chain_sha256: str
    chain_sha256: str
    withheld: str | None = None

    @classmethod
    def from_stored(cls, payload: str, *, payload_sha256: str, prev_chain_sha256: str,
                    chain_sha256: str) -> WireEvent:
        """From a terminal store row: the header is read out of the payload itself."""
        try:
            doc = json.loads(payload)
            header = {name: doc[name] for name in HEADER_FIELDS}
        except (ValueError, KeyError, TypeError) as err:
            raise InvalidEventError(f"stored payload is not an event: {err}",
                                    code="invalid_payload", field="payload") from err
        return cls(**header, payload=payload, payload_sha256=payload_sha256,
                   prev_chain_sha256=prev_chain_sha256, chain_sha256=chain_sha256)

    def header(self) -> dict[str, Any]:
        return dict(zip(HEADER_FIELDS, _header_values(self), strict=True))

    def to_json(self) -> dict[str, Any]:
        doc = {**self.header(), "payload": self.payload, "payload_sha256": self.payload_sha256,
               "prev_chain_sha256": self.prev_chain_sha256, "chain_sha256": self.chain_sha256}
        if self.withheld is not None:
            doc["withheld"] = self.withheld
        return doc

    @classmethod
    def from_json(cls, doc: Any, where: str = "", limits: Limits = DEFAULT_LIMITS) -> WireEvent:
        # Nearly every event is valid: one pass of plain tests accepts it; any doubt, and the
        # field-by-field reading below decides, naming the first problem (issue 19: the
        # reading was a tenth of the server's CPU per event).
        event = _plainly_valid(doc, limits)
        return event if event is not None else cls._read(doc, where, limits)

    @classmethod
    def _read(cls, doc: Any, where: str, limits: Limits) -> WireEvent:
        f = Fields(doc, where=where, error=InvalidEventError, code="invalid_event")
        kind = f.text("kind", max_len=16)
        if kind not in KINDS:
            raise f.fail("kind", f"must be one of {', '.join(KINDS)}")
        target = f.opt_text("target_event_id", max_len=36, pattern=UUID_RE)
        if (kind in TARGETED_KINDS) != (target is not None):
            raise f.fail("target_event_id",
                         "required for amend, void and check_out_undone, and only for them")
        payload = f.opt_text("payload", max_len=4 * limits.max_event_bytes)
        if payload is not None and len(payload.encode("utf-8")) > limits.max_event_bytes:
            raise f.fail("payload", f"larger than {limits.max_event_bytes} bytes", "too_large")
        withheld = f.opt_text("withheld", max_len=16)
        if (payload is None) != (withheld is not None) or (
                withheld is not None and withheld not in WITHHELD_REASONS):
            raise f.fail("withheld", "required without a payload (purged or superseded), "
                         "and only then")
        return cls(
            event_id=f.text("event_id", max_len=36, pattern=UUID_RE),
            device_id=f.text("device_id", max_len=64), site_code=f.text("site_code", max_len=32),
            sequence=f.integer("sequence", minimum=1, maximum=2**62), kind=kind,
            stay_id=f.text("stay_id", max_len=36, pattern=UUID_RE), target_event_id=target,
            wall_time=f.time("wall_time"), clock_synchronised=f.boolean("clock_synchronised"),
            monotonic_ns=f.integer("monotonic_ns", minimum=0, maximum=2**63 - 1),
            boot_id=f.text("boot_id", max_len=64), operator=f.text("operator", max_len=64),
            payload=payload, withheld=withheld,
            payload_sha256=f.text("payload_sha256", max_len=64, pattern=SHA256_RE),
            prev_chain_sha256=f.text("prev_chain_sha256", max_len=64, pattern=SHA256_RE),
            chain_sha256=f.text("chain_sha256", max_len=64, pattern=SHA256_RE),
        )

    def check_payload(self) -> dict[str, Any] | None:
        """Recompute the payload hash and compare the header inside the payload with the wire
        header; returns the payload's "data" (None when withheld). Raises InvalidEventError."""
        if self.payload is None:
            return None
        if sha256_hex(self.payload) != self.payload_sha256:
            raise InvalidEventError("payload does not match payload_sha256",
                                    code="payload_hash_mismatch", field="payload_sha256")
        try:
            doc = json.loads(self.payload)
        except (ValueError, RecursionError) as err:  # RecursionError: nested beyond the stack
            raise InvalidEventError("payload is not JSON (or nested too deeply)",
                                    code="invalid_payload", field="payload") from err
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
            raise InvalidEventError("payload must be an object with a \"data\" object",
                                    code="invalid_payload", field="payload")
        if tuple(map(doc.get, HEADER_FIELDS, _NOTHING)) != _header_values(self):
            for name, value in self.header().items():  # name the first that differs
                if doc.get(name, ...) != value:
                    raise InvalidEventError(f"{name} differs between the header and the "
                                            "payload", code="header_mismatch", field=name)
        return doc["data"]

    @property
    def chain_consistent(self) -> bool:
        """The event's own chain hash follows from its sequence, predecessor and payload hash."""
        first_ok = self.sequence > 1 or self.prev_chain_sha256 == GENESIS
        return first_ok and self.chain_sha256 == chain_hash(
            self.sequence, self.prev_chain_sha256, self.payload_sha256)


_header_values = operator.attrgetter(*HEADER_FIELDS)
_NOTHING = tuple(repeat(..., len(HEADER_FIELDS)))  # doc.get's default: "absent", unlike None
_UUID, _SHA256 = UUID_RE.match, SHA256_RE.match


def _text(value: Any, max_len: int) -> bool:
    """A text field Fields.text would accept: a non-empty str within `max_len` whose every
    character is printable (so none the text rule refuses; other texts go the long way)."""
    return type(value) is str and 0 < len(value) <= max_len and value.isprintable()


def _plainly_valid(doc: Any, limits: Limits) -> WireEvent | None:
    """The event of `doc` when each field passes a plain test, else None. Every test is as
    strict as WireEvent._read's or stricter (exact types, printable text), so this accepts
    nothing that reading refuses, and the event is the one it would build."""
    if type(doc) is not dict:
        return None
    get = doc.get
    kind, target = get("kind"), get("target_event_id")
    payload, withheld = get("payload"), get("withheld")
    event_id, stay_id, wall_time = get("event_id"), get("stay_id"), get("wall_time")
    sequence, monotonic_ns = get("sequence"), get("monotonic_ns")
    hashes = (get("payload_sha256"), get("prev_chain_sha256"), get("chain_sha256"))
    if not (type(kind) is str and kind in KINDS
            and (_text(target, 36) and _UUID(target) if kind in TARGETED_KINDS
                 else target is None)
            and (withheld is None if payload is not None else withheld in WITHHELD_REASONS)
            and _text(event_id, 36) and _UUID(event_id) and _text(stay_id, 36) and _UUID(stay_id)
            and _text(get("device_id"), 64) and _text(get("site_code"), 32)
            and _text(get("boot_id"), 64) and _text(get("operator"), 64)
            and type(sequence) is int and 1 <= sequence <= 2**62
            and type(monotonic_ns) is int and 0 <= monotonic_ns <= 2**63 - 1
            and type(get("clock_synchronised")) is bool
            and _text(wall_time, 27) and TIME_RE.match(wall_time)
            and all(_text(h, 64) and _SHA256(h) for h in hashes)):
        return None
    if payload is not None:
        if not (type(payload) is str and payload.isprintable()):
            return None
        # UTF-8 takes at most 4 bytes a character: a short text needs no encoding to tell
        if len(payload) > limits.max_event_bytes // 4 and (
                len(payload) > 4 * limits.max_event_bytes
                or len(payload.encode("utf-8")) > limits.max_event_bytes):
            return None
    try:
        parse_utc(wall_time)
    except ValueError:
        return None
    return WireEvent(event_id=event_id, device_id=doc["device_id"], site_code=doc["site_code"],
                     sequence=sequence, kind=kind, stay_id=stay_id, target_event_id=target,
                     wall_time=wall_time, clock_synchronised=doc["clock_synchronised"],
                     monotonic_ns=monotonic_ns, boot_id=doc["boot_id"],
                     operator=doc["operator"], payload=payload, withheld=withheld,
                     payload_sha256=hashes[0], prev_chain_sha256=hashes[1],
                     chain_sha256=hashes[2])


@dataclass(frozen=True, slots=True)
class Batch:
    device_id: str
    site_code: str
    clock: SenderClock
    events: tuple[WireEvent, ...]

    def to_json(self, *, events: bool = True) -> dict[str, Any]:
        """The batch; without `events`, the envelope alone (sync.body.encode_batch streams them)."""
        doc = {"protocol": PROTOCOL_VERSION, "device_id": self.device_id,
               "site_code": self.site_code, "clock": self.clock.to_json()}
        if events:
            doc["events"] = [e.to_json() for e in self.events]
        return doc


@dataclass(frozen=True, slots=True)
class BatchEnvelope:
    """A received batch: envelope checked, each event parsed alone (bad ones kept as errors)."""

    device_id: str
    site_code: str
    clock: SenderClock
    events: list[WireEvent | InvalidEventError] = field(default_factory=list)
    raw_ids: list[str | None] = field(default_factory=list)

    @classmethod
    def from_json(cls, doc: Any, limits: Limits = DEFAULT_LIMITS) -> BatchEnvelope:
        f = Fields(doc)
        check_protocol(f)
        raw_events = f.items("events", max_items=2**31)
        if len(raw_events) > limits.max_events:
            raise f.fail("events", f"{len(raw_events)} events, at most {limits.max_events} "
                         "in one batch", "too_many_events")
        envelope = cls(f.text("device_id", max_len=64), f.text("site_code", max_len=32),
                       SenderClock.from_json(doc.get("clock")))
        for index, raw in enumerate(raw_events):
            raw_id = raw.get("event_id") if isinstance(raw, dict) else None
            # Echoed in the answer: only what the answer can carry as text.
            envelope.raw_ids.append(raw_id if isinstance(raw_id, str) and len(raw_id) <= 36
                                    and text_problem(raw_id) is None else None)
            try:
                envelope.events.append(WireEvent.from_json(raw, f"events[{index}].", limits))
            except InvalidEventError as err:
                envelope.events.append(err)
        return envelope


def check_protocol(f: Fields) -> None:
    version = f.integer("protocol")
    if version != PROTOCOL_VERSION:
        raise f.fail("protocol", f"this side speaks protocol {PROTOCOL_VERSION}, got {version}",
                     "unsupported_protocol")


@dataclass(frozen=True, slots=True)
class EventResult:
    event_id: str | None
    status: str
    receipt: str | None = None  # set when delivered (accepted or duplicate)
    code: str | None = None  # set when rejected
    field: str | None = None
    message: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status in (ACCEPTED, DUPLICATE)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"event_id": self.event_id, "status": self.status}
        if self.delivered:
            doc["receipt"] = self.receipt
        else:
            doc.update(code=self.code, field=self.field, message=self.message)
        return doc

    @classmethod
    def from_json(cls, doc: Any, where: str) -> EventResult:
        f = Fields(doc, where=where)
        status = f.text("status", max_len=16)
        if status not in STATUSES:
            raise f.fail("status", f"unknown status {status!r}")
        if status == REJECTED:
            return cls(f.opt_text("event_id", max_len=36), status, code=f.text("code"),
                       field=f.opt_text("field", max_len=256), message=f.text("message",
                                                                             max_len=2000))
        return cls(f.text("event_id", max_len=36), status, receipt=f.text("receipt"))


@dataclass(frozen=True, slots=True)
class BatchAnswer:
    server_time: str
    clock_offset_ms: int | None  # server time minus the sender's raw wall clock
    results: tuple[EventResult, ...]

    def to_json(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL_VERSION, "server_time": self.server_time,
                "clock_offset_ms": self.clock_offset_ms,
                "results": [r.to_json() for r in self.results]}

    @classmethod
    def from_json(cls, doc: Any, sent: Sequence[WireEvent] | None = None) -> BatchAnswer:
        f = Fields(doc)
        check_protocol(f)
        results = tuple(EventResult.from_json(r, f"results[{i}].")
                        for i, r in enumerate(f.items("results", max_items=100_000)))
        if sent is not None and [r.event_id for r in results] != [e.event_id for e in sent]:
            raise ProtocolError("the answer's results do not match the events sent one to one",
                                code="answer_mismatch", field="results")
        return cls(f.time("server_time"), f.opt_integer("clock_offset_ms"), results)
