"""`GET /metrics`: the server's state in Prometheus text format, for the operators' monitoring.

Computed from the database on each scrape, so every server process answers the same figures:

    anju_events_stored_total           counter  events stored (rate() of it = ingest rate)
    anju_events_rejected               gauge    events set aside as rejected, per last heartbeats
    anju_devices                       gauge    enrolled devices, by state (ok/silent/backlog/...)
    anju_backlog_age_seconds           histogram oldest undelivered event per device
    anju_audit_rows_total              counter  audit log rows (counted whole once per process,
                                                then the rows added since: AuditRows)

No personal data. It is not authenticated: expose it on the internal network only (the reverse
proxy in front of the server should not route /metrics from outside).
"""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import Connection, Engine, func, select

from central.db.tables import audit_log, devices
from central.fleet import FleetPolicy, fleet

BUCKETS = (60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 86400.0, 7 * 86400.0)


class AuditRows:
    """The audit log's rows, counted in full once per process, then only those added since.
    The log is never purged and grows with police use (tens of millions of rows in a
    province's year): counting it whole at every scrape grew with it. Appends are serialised
    until their commit (central/accounts/audit.py), so a row never becomes visible with a lower
    id than one already counted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_id = 0
        self._count = 0

    def read(self, conn: Connection) -> int:
        with self._lock:
            added, last = conn.execute(
                select(func.count(), func.max(audit_log.c.id))
                .where(audit_log.c.id > self._last_id)).one()
            if added:
                self._count, self._last_id = self._count + added, last
            return self._count


def render(engine: Engine, policy: FleetPolicy, audit_rows: AuditRows | None = None) -> str:
    with engine.connect() as conn:
        stored = conn.execute(select(func.coalesce(func.sum(devices.c.events_stored), 0))).scalar()
        audited = (audit_rows or AuditRows()).read(conn)
    rows = [r for r in fleet(engine, policy) if r.get("device_id")]
    states = Counter(r["state"] for r in rows)
    rejected = sum(r.get("rejected") or 0 for r in rows)
    ages = [r["backlog_age_s"] or 0.0 for r in rows if r.get("backlog")]
    lines = ["# HELP anju_events_stored_total Events stored from all devices.",
             "# TYPE anju_events_stored_total counter",
             f"anju_events_stored_total {int(stored or 0)}",
             "# HELP anju_events_rejected Events rejected, as last reported by each device.",
             "# TYPE anju_events_rejected gauge", f"anju_events_rejected {rejected}",
             "# HELP anju_devices Enrolled devices by fleet state.",
             "# TYPE anju_devices gauge"]
    for state in ("ok", "silent", "not_delivering", "backlog", "disabled"):
        lines.append(f'anju_devices{{state="{state}"}} {states.get(state, 0)}')
    lines += ["# HELP anju_backlog_age_seconds Age of the oldest undelivered event per device.",
              "# TYPE anju_backlog_age_seconds histogram"]
    for bound in BUCKETS:
        lines.append(f'anju_backlog_age_seconds_bucket{{le="{bound:g}"}} '
                     f"{sum(1 for a in ages if a <= bound)}")
    lines += [f'anju_backlog_age_seconds_bucket{{le="+Inf"}} {len(ages)}',
              f"anju_backlog_age_seconds_sum {sum(ages):.1f}",
              f"anju_backlog_age_seconds_count {len(ages)}",
              "# HELP anju_audit_rows_total Rows in the audit log.",
              "# TYPE anju_audit_rows_total counter", f"anju_audit_rows_total {int(audited or 0)}"]
    return "\n".join(lines) + "\n"
