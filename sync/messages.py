"""Wire protocol v1: the control messages (enrolment, heartbeat, time) and the error shape.

    POST /api/v1/enroll     EnrolRequest  -> Enrolment        (unsigned: the token is the proof)
    POST /api/v1/heartbeat  Heartbeat     -> HeartbeatAnswer  (signed)
    GET  /api/v1/time                     -> ServerTime       (unsigned)
    any error               {"error": {"code": str, "message": str, ...details}}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sync.fields import DATE_RE, Fields
from sync.protocol import DEFAULT_LIMITS, PROTOCOL_VERSION, Limits, SenderClock, check_protocol
from sync.update_messages import UpdateOrder, UpdateReport

MAX_DAY_REPORTS = 31
# The reader states a heartbeat may report (terminal/store/reader_state.py says what each means);
# anything else is refused, so the field can never carry free text into the server's records.
READER_STATES = ("connected", "no_reader", "fault", "stale", "unknown")
# A delivery state (sync/diagnosis.py's codes): lower-case letters and "_", so a newer terminal's
# new code is kept and shown as it is, and the field can never carry free text.
SYNC_STATE_RE = re.compile(r"^[a-z_]{1,32}\Z")


@dataclass(frozen=True, slots=True)
class EnrolRequest:
    token: str  # the one-time enrolment token the technician was given
    installation_id: str  # random, chosen once per installation: a lost answer can be re-asked
    software_version: str

    def to_json(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL_VERSION, "token": self.token,
                "installation_id": self.installation_id,
                "software_version": self.software_version}

    @classmethod
    def from_json(cls, doc: Any) -> EnrolRequest:
        f = Fields(doc)
        check_protocol(f)
        return cls(f.text("token", max_len=128), f.text("installation_id", min_len=8, max_len=64),
                   f.text("software_version", max_len=64))


@dataclass(frozen=True, slots=True)
class Enrolment:
    device_id: str
    site_code: str
    site_name: str
    secret: str  # per-device HMAC key, base64url; store it with mode 0600, never log it
    server_time: str
    limits: Limits = DEFAULT_LIMITS

    def to_json(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL_VERSION, "device_id": self.device_id,
                "site_code": self.site_code, "site_name": self.site_name, "secret": self.secret,
                "server_time": self.server_time, "limits": self.limits.to_json()}

    @classmethod
    def from_json(cls, doc: Any) -> Enrolment:
        f = Fields(doc)
        check_protocol(f)
        lf = Fields(doc.get("limits"), where="limits.")
        limits = Limits(**{k: lf.integer(k, minimum=1) for k in DEFAULT_LIMITS.to_json()})
        return cls(f.text("device_id", max_len=64), f.text("site_code", max_len=32),
                   f.text("site_name", max_len=200), f.text("secret", min_len=32, max_len=128),
                   f.time("server_time"), limits)


@dataclass(frozen=True, slots=True)
class DayReport:
    """Check-ins made on one local day; `check_ins == 0` is the nil report for that day."""

    date: str  # YYYY-MM-DD in the guesthouse's time zone
    check_ins: int

    def to_json(self) -> dict[str, Any]:
        return {"date": self.date, "check_ins": self.check_ins}


@dataclass(frozen=True, slots=True)
class ReaderReport:
    """The ID card reader as the heartbeat reports it (the terminal service's last word on it).

    `status`: connected | no_reader | fault | stale (the terminal service itself is silent) |
    unknown. Ages are seconds on the device's monotonic clock: the server turns them into times
    with its own clock, so a device clock that is wrong does not move them.
    """

    status: str = "unknown"
    detail: str | None = None  # why, for no_reader / fault / stale; never personal data
    state_age_s: float | None = None  # how long the reader has been in this state
    seen_age_s: float | None = None  # since the terminal service last confirmed it


@dataclass(frozen=True, slots=True)
class Heartbeat:
    device_id: str
    site_code: str
    clock: SenderClock
    software_version: str
    backlog: int  # events queued or sent, not yet acknowledged
    oldest_queued_age_s: float | None  # None when the backlog is empty
    reader_status: str  # connected | no_reader | fault | stale | unknown (see ReaderReport)
    disk_free_bytes: int
    last_error: str | None = None  # already redacted: no names, no ID numbers
    rejected: int = 0  # events the server rejected, set aside on the terminal
    day_reports: tuple[DayReport, ...] = field(default_factory=tuple)
    reader_detail: str | None = None  # optional (terminals before it send none)
    reader_state_age_s: float | None = None
    reader_seen_age_s: float | None = None
    # Why events are not being delivered (sync/diagnosis.py: "ok", "server_failing",
    # "events_rejected", "backlog_stuck", …) and for how long, on the monotonic clock.
    sync_state: str | None = None
    sync_state_age_s: float | None = None
    disk_min_free_bytes: int | None = None  # below it the terminal refuses check-ins
    # `anju doctor`'s last full run on the terminal: its worst class ("ok", "reader", "disk",
    # … docs/doctor.md's exit-code classes) and how long ago.
    doctor_class: str | None = None
    doctor_age_s: float | None = None
    update: UpdateReport | None = None  # the updater's last outcome (sync/update_messages.py)

    @property
    def clock_synchronised(self) -> bool:
        return self.clock.synchronised

    def to_json(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL_VERSION, "device_id": self.device_id,
                "site_code": self.site_code, "clock": self.clock.to_json(),
                "software_version": self.software_version, "backlog": self.backlog,
                "oldest_queued_age_s": self.oldest_queued_age_s,
                "reader_status": self.reader_status, "disk_free_bytes": self.disk_free_bytes,
                "last_error": self.last_error, "rejected": self.rejected,
                "day_reports": [d.to_json() for d in self.day_reports],
                "reader_detail": self.reader_detail,
                "reader_state_age_s": self.reader_state_age_s,
                "reader_seen_age_s": self.reader_seen_age_s,
                "sync_state": self.sync_state, "sync_state_age_s": self.sync_state_age_s,
                "disk_min_free_bytes": self.disk_min_free_bytes,
                "doctor_class": self.doctor_class, "doctor_age_s": self.doctor_age_s,
                **({"update": self.update.to_json()} if self.update else {})}

    @classmethod
    def from_json(cls, doc: Any) -> Heartbeat:
        f = Fields(doc)
        check_protocol(f)
        days = []
        for i, raw in enumerate(f.items("day_reports", max_items=MAX_DAY_REPORTS)):
            df = Fields(raw, where=f"day_reports[{i}].")
            days.append(DayReport(df.text("date", max_len=10, pattern=DATE_RE),
                                  df.integer("check_ins", minimum=0, maximum=100_000)))
        return cls(
            f.text("device_id", max_len=64), f.text("site_code", max_len=32),
            SenderClock.from_json(doc.get("clock")), f.text("software_version", max_len=64),
            f.integer("backlog", minimum=0, maximum=2**40),
            f.number("oldest_queued_age_s", optional=True), _reader_status(f),
            f.integer("disk_free_bytes", minimum=0, maximum=2**62),
            f.opt_text("last_error", max_len=500),
            f.opt_integer("rejected", minimum=0, maximum=2**40) or 0, tuple(days),
            f.opt_text("reader_detail", max_len=200),
            _age(f, "reader_state_age_s"), _age(f, "reader_seen_age_s"),
            f.opt_text("sync_state", max_len=32, pattern=SYNC_STATE_RE),
            _age(f, "sync_state_age_s"),
            f.opt_integer("disk_min_free_bytes", minimum=0, maximum=2**62),
            f.opt_text("doctor_class", max_len=32, pattern=SYNC_STATE_RE),
            _age(f, "doctor_age_s"),
            UpdateReport.from_json(doc["update"]) if doc.get("update") is not None else None,
        )


def _reader_status(f: Fields) -> str:
    value = f.text("reader_status", max_len=32)
    if value not in READER_STATES:  # the value itself is not echoed: it is the sender's text
        raise f.fail("reader_status", f"must be one of {', '.join(READER_STATES)}")
    return value


def _age(f: Fields, name: str) -> float | None:
    value = f.number(name, optional=True)
    if value is not None and not 0 <= value <= 10 * 365 * 86400:
        raise f.fail(name, "must be seconds between 0 and ten years")
    return value


@dataclass(frozen=True, slots=True)
class HeartbeatAnswer:
    server_time: str
    clock_offset_ms: int
    next_heartbeat_s: int
    update: UpdateOrder | None = None  # the rollout that applies to this device, if any

    def to_json(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL_VERSION, "server_time": self.server_time,
                "clock_offset_ms": self.clock_offset_ms,
                "next_heartbeat_s": self.next_heartbeat_s,
                **({"update": self.update.to_json()} if self.update else {})}

    @classmethod
    def from_json(cls, doc: Any) -> HeartbeatAnswer:
        f = Fields(doc)
        check_protocol(f)
        order = doc.get("update")
        return cls(f.time("server_time"), f.integer("clock_offset_ms"),
                   f.integer("next_heartbeat_s", minimum=1),
                   UpdateOrder.from_json(order) if order is not None else None)


@dataclass(frozen=True, slots=True)
class ServerTime:
    server_time: str
    timestamp: float  # Unix seconds

    def to_json(self) -> dict[str, Any]:
        return {"protocol": PROTOCOL_VERSION, "server_time": self.server_time,
                "timestamp": self.timestamp}

    @classmethod
    def from_json(cls, doc: Any) -> ServerTime:
        f = Fields(doc)
        check_protocol(f)
        return cls(f.time("server_time"), f.number("timestamp") or 0.0)


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """`{"error": {"code", "message", ...}}`: the one error shape of every endpoint."""

    code: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.detail}}

    @classmethod
    def from_json(cls, doc: Any) -> ErrorBody:
        inner = Fields(doc).doc.get("error")
        f = Fields(inner, where="error.")
        detail = {k: v for k, v in f.doc.items() if k not in ("code", "message")}
        return cls(f.text("code", max_len=64), f.text("message", max_len=2000), detail)
