"""Software rollouts: which version each terminal is ordered to run, and how far the fleet got.

An administrator sets a rollout (`anju central rollout set`, audited): a version for every
device, a district, a list of sites, or a percentage of the fleet, spread over `spread_s`. The
newest active rollout that matches a device wins; its heartbeat answer carries the order
(sync/update_messages.py) with the device's slot in the spread, so 889 terminals do not fetch
the package in the same minute. A device matches no rollout: no order, it keeps its version.

    percent   a stable bucket 0..99 of the device id (SHA-256): raising 10 % to 50 % keeps the
              first tenth, and each release reaches the same canaries first
    slot      created_at + spread_s * u, u in [0, 1) from SHA-256(rollout id, device id): a new
              rollout reshuffles the order, the device's slot never moves within one

The terminal's updater (terminal/update/) installs the version in its slot when no registration
is open, runs the health gate, rolls back by itself if the gate fails, and reports the outcome
in its next heartbeat (`update_reports`). `progress` is what the fleet page and `anju central
rollout status` show. docs/updates.md is the administrator's procedure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from central.accounts import audit
from central.accounts.principals import Principal
from central.clock import utc_now
from central.db.tables import devices, rollouts, site_districts, update_reports
from central.errors import BadRequestError, NotFoundError
from sync.fields import format_utc, parse_utc
from sync.update_messages import VERSION_RE, UpdateOrder, UpdateReport

SCOPES = ("all", "district", "sites", "percent")
MAX_SPREAD_S = 30 * 86400


@dataclass(frozen=True, slots=True)
class Rollout:
    id: int
    version: str
    scope: str
    targets: tuple[str, ...]
    percent: int | None
    spread_s: int
    created_at: str
    created_by: str
    cancelled_at: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> Rollout:
        return cls(row.id, row.version, row.scope, tuple(json.loads(row.targets or "[]")),
                   row.percent, row.spread_s, row.created_at, row.created_by, row.cancelled_at)

    def describe(self) -> str:
        if self.scope == "all":
            return "all devices"
        if self.scope == "percent":
            return f"{self.percent}% of devices"
        return f"{self.scope} {', '.join(self.targets)}"


def bucket(device_id: str) -> int:
    """0..99, stable for a device across rollouts (the percent scope compares against it)."""
    return int.from_bytes(hashlib.sha256(device_id.encode()).digest()[:8], "big") % 100


def slot_fraction(rollout_id: int, device_id: str) -> float:
    """Where in the rollout's spread this device's slot lies, in [0, 1)."""
    digest = hashlib.sha256(f"{rollout_id}:{device_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def matches(rollout: Rollout, device_id: str, site_code: str, district: str | None) -> bool:
    if rollout.scope == "all":
        return True
    if rollout.scope == "district":
        return district is not None and district in rollout.targets
    if rollout.scope == "sites":
        return site_code in rollout.targets
    return rollout.percent is not None and bucket(device_id) < rollout.percent


def choose(active: Sequence[Rollout], device_id: str, site_code: str,
           district: str | None) -> Rollout | None:
    """The newest active rollout that matches the device (`active`: newest first)."""
    return next((r for r in active if matches(r, device_id, site_code, district)), None)


def order(rollout: Rollout, device_id: str, now: datetime) -> UpdateOrder:
    """The heartbeat answer's order: the version and the seconds until this device's slot."""
    slot = parse_utc(rollout.created_at).timestamp() \
        + rollout.spread_s * slot_fraction(rollout.id, device_id)
    return UpdateOrder(rollout.version, rollout.id, max(0, int(slot - now.timestamp() + 0.999)))


def active(conn: Connection) -> list[Rollout]:
    rows = conn.execute(select(rollouts).where(rollouts.c.cancelled_at.is_(None))
                        .order_by(rollouts.c.id.desc()))
    return [Rollout.from_row(r) for r in rows]


def order_for(conn: Connection, device_id: str, site_code: str,
              now: datetime) -> UpdateOrder | None:
    """The order a heartbeat answer carries for this device, or None (keep your version)."""
    current = active(conn)
    if not current:
        return None
    district = None
    if any(r.scope == "district" for r in current):
        district = conn.execute(select(site_districts.c.district).where(
            site_districts.c.site_code == site_code)).scalar()
    chosen = choose(current, device_id, site_code, district)
    return order(chosen, device_id, now) if chosen else None


def record_report(conn: Connection, device_id: str, report: UpdateReport, received: str) -> None:
    """Keep the device's updater's last outcome (one row per device, replaced)."""
    values = {"state": report.state, "version": report.version, "previous": report.previous,
              "detail": report.detail, "at": report.at, "received_at": received}
    done = conn.execute(update(update_reports).where(update_reports.c.device_id == device_id)
                        .values(**values))
    if done.rowcount == 0:
        conn.execute(insert(update_reports).values(device_id=device_id, **values))


def set_rollout(engine: Engine, version: str, scope: str, targets: Iterable[str] = (),
                percent: int | None = None, spread_s: int = 3600, *,
                by: Principal) -> Rollout:
    """Record a rollout (and its audit row, in one transaction)."""
    targets = tuple(dict.fromkeys(t.strip() for t in targets if t.strip()))
    if not VERSION_RE.match(version):
        raise BadRequestError(f"not a package version: {version!r}", code="invalid_parameter")
    if scope not in SCOPES:
        raise BadRequestError(f"scope must be one of {', '.join(SCOPES)}",
                              code="invalid_parameter")
    if scope in ("district", "sites") and not targets:
        raise BadRequestError(f"a {scope} rollout needs at least one {scope[:-1]}"
                              if scope == "sites" else "a district rollout needs a district",
                              code="invalid_parameter")
    if scope == "percent" and (percent is None or not 1 <= percent <= 100):
        raise BadRequestError("percent must be 1..100", code="invalid_parameter")
    if not 0 <= spread_s <= MAX_SPREAD_S:
        raise BadRequestError(f"spread must be 0..{MAX_SPREAD_S} s", code="invalid_parameter")
    now = format_utc(utc_now())
    with engine.begin() as conn:
        new_id = conn.execute(insert(rollouts).values(
            version=version, scope=scope, targets=json.dumps(list(targets)) if targets else None,
            percent=percent if scope == "percent" else None, spread_s=spread_s,
            created_at=now, created_by=by.username)).inserted_primary_key[0]
        audit.append_in(conn, by, "rollout_set", f"rollout {new_id}",
                        {"version": version, "scope": scope, "targets": list(targets),
                         "percent": percent, "spread_s": spread_s}, 1)
        row = conn.execute(select(rollouts).where(rollouts.c.id == new_id)).one()
    return Rollout.from_row(row)


def cancel(engine: Engine, rollout_id: int, *, by: Principal) -> None:
    """Stop ordering this rollout's version (devices already updated keep it)."""
    with engine.begin() as conn:
        done = conn.execute(update(rollouts).where(rollouts.c.id == rollout_id,
                                                   rollouts.c.cancelled_at.is_(None))
                            .values(cancelled_at=format_utc(utc_now())))
        if done.rowcount == 0:
            raise NotFoundError(f"no active rollout {rollout_id}", code="not_found")
        audit.append_in(conn, by, "rollout_cancel", f"rollout {rollout_id}",
                        {"rollout_id": rollout_id}, 1)


def all_rollouts(engine: Engine) -> list[Rollout]:
    with engine.connect() as conn:
        return [Rollout.from_row(r) for r in
                conn.execute(select(rollouts).order_by(rollouts.c.id.desc()))]


def running_version(software_version: str | None) -> str | None:
    """`anju-terminal/0.2.0` (the heartbeat's software_version) -> `0.2.0`."""
    return software_version.rsplit("/", 1)[-1] if software_version else None


@dataclass(frozen=True, slots=True)
class Progress:
    rollout: Rollout
    targeted: int  # devices this rollout is the newest match for
    updated: int  # of them, running its version
    pending: int  # ordered, not there yet, no failure reported for this version
    rolled_back: list[dict[str, Any]]  # device_id, site_code, detail, at
    failed: list[dict[str, Any]]

    @property
    def share_updated(self) -> float:
        return self.updated / self.targeted if self.targeted else 0.0


def progress(engine: Engine, district: str | None = None) -> list[Progress]:
    """Each active rollout's reach among the (non-revoked) devices, optionally one district's."""
    with engine.connect() as conn:
        current = active(conn)
        if not current:
            return []
        districts = dict(conn.execute(select(site_districts.c.site_code,
                                             site_districts.c.district)).all())
        reports = {r.device_id: r for r in conn.execute(select(update_reports))}
        fleet = conn.execute(select(devices.c.device_id, devices.c.site_code,
                                    devices.c.software_version)
                             .where(devices.c.revoked_at.is_(None),
                                    devices.c.disabled.is_(False))).all()
    tally: dict[int, dict[str, Any]] = {
        r.id: {"targeted": 0, "updated": 0, "pending": 0, "rolled_back": [], "failed": []}
        for r in current}
    for device in fleet:
        site_district = districts.get(device.site_code)
        if district is not None and site_district != district:
            continue
        chosen = choose(current, device.device_id, device.site_code, site_district)
        if chosen is None:
            continue
        t = tally[chosen.id]
        t["targeted"] += 1
        report = reports.get(device.device_id)
        if running_version(device.software_version) == chosen.version:
            t["updated"] += 1
        elif report is not None and report.version == chosen.version \
                and report.state in ("rolled_back", "failed"):
            t[report.state].append({"device_id": device.device_id,
                                    "site_code": device.site_code, "detail": report.detail,
                                    "at": report.at, "running": running_version(
                                        device.software_version)})
        else:
            t["pending"] += 1
    return [Progress(r, **tally[r.id]) for r in current]


def progress_json(items: Sequence[Progress]) -> list[dict[str, Any]]:
    return [{"rollout_id": p.rollout.id, "version": p.rollout.version,
             "scope": p.rollout.describe(), "spread_s": p.rollout.spread_s,
             "created_at": p.rollout.created_at, "targeted": p.targeted, "updated": p.updated,
             "pending": p.pending, "rolled_back": p.rolled_back, "failed": p.failed}
            for p in items]


def reports(engine: Engine) -> dict[str, dict[str, Any]]:
    """Each device's updater's last outcome, by device id (the fleet page's version column)."""
    with engine.connect() as conn:
        return {r.device_id: dict(r._mapping) for r in conn.execute(select(update_reports))}
