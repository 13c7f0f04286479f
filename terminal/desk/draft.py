"""The registration being made: guests from cards (or typed by hand) until the clerk confirms.

One terminal, one clerk, one party at a time: the draft lives in the service's memory, so a
page reloaded mid-registration shows the same guests. It holds full personal data only until
the check-in is saved or cleared.

A minor's guardian who is not here has no document in the party, and the terminal has no
keyboard: the clerk arms "read the guardian's card" for that minor (`arm_guardian`), and the
next card placed fills the guardian's name (as the card spells it, whole) instead of joining
the party (`place_card`). Only the name is kept: the guardian's ID number is not asked for.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from drivers.idcard.reading import CardRead
from terminal.domain.attachments import Attachment
from terminal.domain.documents import Visa
from terminal.domain.guests import COMPANION, MAIN, Guardian, Guest, guest_from_card
from terminal.system.ids import new_id


@dataclass(frozen=True, slots=True)
class DraftGuest:
    guest: Guest
    card: CardRead | None  # None when typed by hand
    read_at: float  # epoch seconds of the read (the bench times the page against it)


@dataclass(frozen=True, slots=True)
class MinorLink:
    """What the clerk filled in for one minor on the check-in form."""

    accompanied_by: str | None = None
    relationship: str | None = None
    guardian_name: str = ""
    guardian_phone: str = ""
    guardian_relationship: str | None = None
    guardian_contacted: bool = False


class Draft:
    """Thread-safe: the reader thread adds cards, request handlers read and clear."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._guests: list[DraftGuest] = []
        self._attachments: list[Attachment] = []  # scanned QR / booking codes for this party
        self.version = 0
        self.stay_id = new_id()  # chosen up front: a retried confirm cannot save twice
        self._guardian_for: str | None = None  # the minor whose guardian's card comes next
        self._guardian_names: dict[str, str] = {}  # minor's guest_id -> name from a card

    def snapshot(self) -> tuple[int, list[DraftGuest]]:
        with self._lock:
            return self.version, list(self._guests)

    def place_card(self, card: CardRead) -> Literal["guest", "duplicate", "guardian"]:
        """A card on the reader: the armed minor's guardian, else a guest of the party."""
        with self._lock:
            minor = self._guardian_for
            own = {d.card.id_number for d in self._guests if d.card is not None}
            if minor is not None and card.id_number not in own:
                self._guardian_names[minor] = card.name
                self._guardian_for = None
                self.version += 1
                return "guardian"
        return "guest" if self.add_card(card) else "duplicate"

    def arm_guardian(self, guest_id: str | None) -> bool:
        """The next card is `guest_id`'s guardian (None: not any more); False if no such guest."""
        with self._lock:
            if guest_id is not None and all(d.guest.guest_id != guest_id for d in self._guests):
                return False
            self._guardian_for = guest_id
            self.version += 1
            return True

    def guardian_state(self) -> tuple[str | None, dict[str, str]]:
        """(the minor armed for a guardian's card or None, names read from guardians' cards)."""
        with self._lock:
            return self._guardian_for, dict(self._guardian_names)

    def add_card(self, card: CardRead) -> bool:
        """Add a card's holder; False when the same document is already in the party."""
        with self._lock:
            if any(d.card is not None and d.card.id_number == card.id_number
                   for d in self._guests):
                return False
            role = COMPANION if self._guests else MAIN
            guest = guest_from_card(card, guest_id=new_id(), role=role)
            self._guests.append(DraftGuest(guest, card, time.time()))
            self.version += 1
            return True

    def attachments(self) -> list[Attachment]:
        with self._lock:
            return list(self._attachments)

    def attach(self, attachment: Attachment) -> bool:
        """Attach a scan to the party being registered; False when already attached."""
        with self._lock:
            if attachment in self._attachments:
                return False
            self._attachments.append(attachment)
            self.version += 1
            return True

    def add_guest(self, guest: Guest) -> None:
        with self._lock:
            role = COMPANION if self._guests else MAIN
            self._guests.append(DraftGuest(replace(guest, role=role), None, time.time()))
            self.version += 1

    def set_visa_number(self, guest_id: str, number: str) -> bool:
        """A scanned visa's number on a guest of the party (web/scans.place_visa matched it)."""
        with self._lock:
            for index, d in enumerate(self._guests):
                if d.guest.guest_id == guest_id:
                    doc = d.guest.document
                    visa = replace(doc.visa or Visa(), visa_number=number)
                    guest = replace(d.guest, document=replace(doc, visa=visa))
                    self._guests[index] = replace(d, guest=guest)
                    self.version += 1
                    return True
        return False

    def remove(self, guest_id: str) -> None:
        with self._lock:
            self._guests = [d for d in self._guests if d.guest.guest_id != guest_id]
            self._guardian_names.pop(guest_id, None)
            if self._guardian_for == guest_id:
                self._guardian_for = None
            if self._guests and all(d.guest.role != MAIN for d in self._guests):
                first = self._guests[0]
                self._guests[0] = replace(first, guest=replace(first.guest, role=MAIN))
            self.version += 1

    def clear(self) -> None:
        with self._lock:
            self._guests = []
            self._attachments = []
            self._guardian_for = None
            self._guardian_names = {}
            self.version += 1
            self.stay_id = new_id()

    def guests_for_check_in(self, links: dict[str, MinorLink], today: date) -> list[Guest]:
        """The party with each minor's link (adult or guardian) applied."""
        with self._lock:
            guests = [d.guest for d in self._guests]
        out = []
        for guest in guests:
            link = links.get(guest.guest_id)
            if link is not None and guest.is_minor(today):
                guest = _linked(guest, link)
            out.append(guest)
        return out


def _linked(guest: Guest, link: MinorLink) -> Guest:
    if link.accompanied_by:
        return replace(guest, accompanied_by=link.accompanied_by,
                       relationship=link.relationship or None, guardian=None)
    guardian = Guardian(name=link.guardian_name.strip(), phone=link.guardian_phone.strip(),
                        relationship=link.guardian_relationship or "",
                        contacted=link.guardian_contacted)
    return replace(guest, guardian=guardian, accompanied_by=None,
                   relationship=link.guardian_relationship or None)
