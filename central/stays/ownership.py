"""Who may write a stay: the device whose event first wrote its stay_id, and no other.

A stay_id is a random UUID made on the terminal that registered the guest; the server learns it
with the first event of that stay it stores, and records the sender as the stay's owner
(`stay_owners`, with its site). From then on, per event on ingest:

    stay owned by another device                          rejected  foreign_stay
    target_event_id names another device's event          rejected  foreign_target
      (or an event of another stay)

whatever its kind (a second check_in with the same stay_id included). The rest of the batch is
accepted. The owner's own events may arrive in any order (an amend before its check_in): the
first of them claims the stay. Refused events are kept whole in `foreign_events`, never folded:
if a device ever wrote a stay_id before its owner did (it would have to know the id before the
server did, i.e. have read it off the owner's terminal), the owner's events are refused
visibly on its terminal (`anju sync status`) and its registration is still on the server for
an administrator, never lost. The projection folds the owner's events only (central/stays/state.py).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, select

from central.db import bulk
from central.db.tables import events, foreign_events, stay_owners
from central.logsafe import safe
from sync.protocol import REJECTED, EventResult, WireEvent

log = logging.getLogger(__name__)
FOREIGN_STAY, FOREIGN_TARGET = "foreign_stay", "foreign_target"


class Sender(Protocol):
    """The device a batch came from (central/devices/authentication.py's Device): stays/
    does not import devices/, which imports it."""

    @property
    def device_id(self) -> str: ...

    @property
    def site_code(self) -> str: ...


@dataclass
class Ownership:
    """The owners and targets one batch touches, and the events it refused."""

    device: Sender
    owners: dict[str, str]  # stay_id -> owning device_id
    targets: dict[str, tuple[str, str]]  # event_id -> (device_id, stay_id)
    months: dict[str, str] = field(default_factory=dict)  # stay_id -> stay_month (retention)
    refused: list[dict[str, Any]] = field(default_factory=list)
    # Stays this batch claimed: no event of theirs was stored before (an event is stored only
    # once its stay has an owner, and owners are never deleted: central/stays/retention.py), so
    # the projection folds them from the batch alone (central/stays/state.py).
    new: set[str] = field(default_factory=set)

    @classmethod
    def claim(
        cls,
        conn: Connection,
        device: Sender,
        batch: Sequence[WireEvent],
        now: str,
        targets: dict[str, tuple[str, str]] | None = None,
    ) -> Ownership:
        """Claim the batch's unowned stays for the sender (first writer wins), then load the
        owners and the named targets (`targets`: event_id -> (device_id, stay_id), when the
        caller read them already). Only events that speak for the sender claim anything."""
        mine = [
            e for e in batch if (e.device_id, e.site_code) == (device.device_id, device.site_code)
        ]
        wanted = sorted({e.stay_id for e in mine})
        # One insert for all of them, sorted, ON CONFLICT DO NOTHING (owned ones are skipped):
        # a racing batch of another device claiming the same stay waits for this one, then
        # finds it owned (PostgreSQL); SQLite serialises. The stays it inserted are new, the
        # sender's from `now` on; the others are read, in a statement of its own so that it sees
        # an owner that a racing batch committed meanwhile.
        new = bulk.insert_new(
            conn,
            stay_owners,
            [
                {"stay_id": s, "device_id": device.device_id, "site_code": device.site_code,
                 "claimed_at": now}
                for s in wanted
            ],
        )
        claims = {s: (device.device_id, now) for s in new}
        claims.update(claims_of(conn, (s for s in wanted if s not in new)))
        if targets is None:
            targets = _targets(conn, {e.target_event_id for e in mine if e.target_event_id})
        return cls(
            device,
            {s: owner for s, (owner, _) in claims.items()},
            dict(targets),
            months={s: month_of(claimed) for s, (_, claimed) in claims.items()},
            new=new,
        )

    def check(self, event: WireEvent, received: str) -> EventResult | None:
        """The rejection of `event` when it is not the sender's to write, else None."""
        me = self.device.device_id
        owner = self.owners.get(event.stay_id)
        if owner is not None and owner != me:
            return self._refuse(
                event, FOREIGN_STAY, "stay_id", "this stay belongs to another device", received
            )
        target = self.targets.get(event.target_event_id or "")
        if target is not None and target[0] != me:
            return self._refuse(
                event,
                FOREIGN_TARGET,
                "target_event_id",
                "the target event belongs to another device",
                received,
            )
        if target is not None and target[1] != event.stay_id:
            return self._refuse(
                event,
                FOREIGN_TARGET,
                "target_event_id",
                "the target event belongs to another stay",
                received,
            )
        self.targets[event.event_id] = (me, event.stay_id)  # later events may name it
        return None

    def _refuse(
        self, event: WireEvent, code: str, field_name: str, message: str, received: str
    ) -> EventResult:
        self.refused.append(
            {
                "event_id": event.event_id,
                "device_id": event.device_id,
                "stay_id": event.stay_id,
                "code": code,
                "received_at": received,
                "event": json.dumps(event.to_json(), ensure_ascii=False),
            }
        )
        return EventResult(event.event_id, REJECTED, code=code, field=field_name, message=message)

    def keep_refused(self, conn: Connection) -> None:
        """Store the refused events (a re-sent one is kept once) and say so in the log."""
        if not self.refused:
            return
        bulk.insert_rows(conn, foreign_events, self.refused, ignore=True)
        first = self.refused[0]
        log.warning(
            "device %s: %d events refused for stays or targets of other devices "
            "(first: %s on stay %s)",
            safe(self.device.device_id),
            len(self.refused),
            first["code"],
            safe(first["stay_id"]),
        )


def owners_of(conn: Connection, stay_ids: Iterable[str]) -> dict[str, str]:
    """stay_id -> owning device_id, for those of `stay_ids` that have an owner."""
    return {
        row.stay_id: row.device_id
        for row in bulk.select_any(
            conn, [stay_owners.c.stay_id, stay_owners.c.device_id], stay_owners.c.stay_id, stay_ids
        )
    }


def claims_of(conn: Connection, stay_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """stay_id -> (owning device_id, claimed_at), for those of `stay_ids` that have an owner."""
    return {
        row.stay_id: (row.device_id, row.claimed_at)
        for row in bulk.select_any(
            conn,
            [stay_owners.c.stay_id, stay_owners.c.device_id, stay_owners.c.claimed_at],
            stay_owners.c.stay_id,
            stay_ids,
        )
    }


def month_of(moment: str) -> str:
    """The stay_month of a stay first seen at `moment` (UTC text): "YYYY-MM"."""
    return moment[:7]


def _targets(conn: Connection, event_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    return {
        row.event_id: (row.device_id, row.stay_id)
        for row in bulk.select_any(
            conn, [events.c.event_id, events.c.device_id, events.c.stay_id], events.c.event_id,
            event_ids,
        )
    }


def contested_stays(conn: Connection) -> list[str]:
    """Stays with stored events of a device other than their owner (written before 0008)."""
    return list(
        conn.execute(
            select(events.c.stay_id)
            .distinct()
            .join(stay_owners, stay_owners.c.stay_id == events.c.stay_id)
            .where(events.c.device_id != stay_owners.c.device_id)
        ).scalars()
    )
