"""A stay as folded from its events: room, times, guests (each checked out on its own), history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from terminal.domain.guests import Guest

IN_HOUSE = "in_house"
CHECKED_OUT = "checked_out"
VOIDED = "voided"
STATUSES = (IN_HOUSE, CHECKED_OUT, VOIDED)


@dataclass(slots=True)
class GuestStay:
    guest: Guest
    added_event_id: str
    checked_in_at: str
    checked_out_at: str | None = None
    checked_out_by: str | None = None  # the check-out event, which an undo names

    @property
    def in_house(self) -> bool:
        return self.checked_out_at is None


@dataclass(frozen=True, slots=True)
class Amendment:
    event_id: str
    field: str
    old: Any
    new: Any
    reason: str
    operator: str
    at: str


@dataclass(slots=True)
class Stay:
    stay_id: str
    device_id: str
    site_code: str
    check_in_event_id: str
    checked_in_at: str  # UTC wall time of the check-in event
    operator: str
    room: str | None  # None only once purged
    expected_check_out: date | None = None
    guests: dict[str, GuestStay] = field(default_factory=dict)
    status: str = IN_HOUSE
    checked_out_at: str | None = None  # when the last guest left
    voided_at: str | None = None
    void_reason: str | None = None
    amendments: list[Amendment] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)  # as recorded at capture
    overrides: list[dict[str, Any]] = field(default_factory=list)
    event_ids: list[str] = field(default_factory=list)
    purged: bool = False
    attachments: list[dict[str, Any]] = field(default_factory=list)  # scans (QR, codes)

    @property
    def ended_at(self) -> str | None:
        """When the stay stopped being in house: check-out of the last guest, or the void."""
        return self.voided_at or self.checked_out_at

    def guests_in_house(self) -> list[GuestStay]:
        return [g for g in self.guests.values() if g.in_house]

    def main_guest(self) -> Guest | None:
        for guest_stay in self.guests.values():
            if guest_stay.guest.role == "main":
                return guest_stay.guest
        return None
