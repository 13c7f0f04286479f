"""The simulated SAM's protocol brain: request in, response out, no I/O (the pty lives elsewhere).

Card session model (reference §2.4, §6.4), per placement of a card on the reader::

    placed ──find 9F──> found ──select 90──> selected ──read 90──> consumed
      find answers 80 once consumed, in "silent" mode only; "answers" mode keeps finding it.
      A selected card can be re-read directly (30 01/30 10/30 03/30 05) while it stays, in
      both modes: the vendor note says no re-authentication is needed until it is lifted.
    removed: everything forgotten; reads answer 0x41, select 0x81, find 0x80.

Frame-level answers: a checksum error from the host -> 0x10, a length that does not fit the
command -> 0x11, an unknown command or parameter (including a baud index beyond 04) -> 0x21.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from drivers.idcard.cards import encode_appended_addresses, encode_text_block, synthetic_photo
from drivers.idcard.codec import (
    BAUD_INDEX,
    FIND_CARD,
    READ_APPENDED_ADDRESS,
    READ_BASE,
    READ_BASE_FINGERPRINT,
    READ_MANAGEMENT_NUMBER,
    READ_SAM_ID,
    RESET_SAM,
    SAM_STATUS,
    SELECT_CARD,
    SET_MAX_RF_BYTES,
    Request,
    Response,
    Status,
    command_for,
)
from drivers.idcard.sam_answers import encode_base_message
from drivers.sim.cardfile import load_card_file

CardLeftMode = Literal["answers", "silent"]
CARD_LEFT_MODES: tuple[CardLeftMode, ...] = ("answers", "silent")

# §2.1 computed example: 05.01-20101117-0001234567-3000000000
DEFAULT_SAM_ID = bytes.fromhex("05 00 01 00 FD B7 32 01 87 D6 12 00 00 5E D0 B2")
MANAGEMENT_NUMBER_SIZE = 28
FINGERPRINT_SIZES = (0, 512, 1024)
_BAUD_BY_INDEX = {index: baud for baud, index in BAUD_INDEX.items()}
_READS = (READ_BASE, READ_BASE_FINGERPRINT, READ_APPENDED_ADDRESS, READ_MANAGEMENT_NUMBER)


@dataclass(frozen=True, slots=True)
class SimCard:
    """What a card gives the SAM: raw blocks, exactly as they go on the wire."""

    text: bytes  # 256-byte text block
    photo: bytes  # 1024-byte WLT block
    fingerprint: bytes = b""  # 0, 512 or 1024 bytes (pre-2013 cards carry none)
    appended_addresses: tuple[str, ...] = ()
    management_number: bytes = field(default=b"")  # 28 bytes; derived from the text if empty
    label: str = ""  # for logs only: never the name or ID number (personal data)

    def __post_init__(self) -> None:
        if len(self.fingerprint) not in FINGERPRINT_SIZES:
            raise ValueError(f"fingerprint: expected 0/512/1024 bytes, got {len(self.fingerprint)}")
        if not self.management_number:
            digest = hashlib.sha256(b"mng" + self.text).digest()[:MANAGEMENT_NUMBER_SIZE]
            object.__setattr__(self, "management_number", digest)
        if len(self.management_number) != MANAGEMENT_NUMBER_SIZE:
            size = len(self.management_number)
            raise ValueError(f"management_number: expected 28 bytes, got {size}")

    @classmethod
    def from_fields(
        cls,
        fields: Mapping[str, Any],
        *,
        photo_seed: str | int | None = None,
        fingerprint_size: int = 0,
        appended_addresses: tuple[str, ...] = (),
        label: str = "",
    ) -> SimCard:
        """Build a card from plain fields (`encode_text_block` keys) with a synthetic photo."""
        seed = photo_seed if photo_seed is not None else fields.get("id_number")
        return cls(
            text=encode_text_block(fields),
            photo=synthetic_photo(seed),
            fingerprint=synthetic_fingerprint(fingerprint_size, seed),
            appended_addresses=tuple(appended_addresses),
            label=label,
        )


def load_sim_cards(path: str | Path | None = None, *, fingerprint_size: int = 0) -> list[SimCard]:
    """The cards of a card file (default: the bundled synthetic set), ready to place."""
    cards: list[SimCard] = []
    for index, (text, photo, entry) in enumerate(load_card_file(path)):
        label = str(entry.get("label", f"card {index}"))
        cards.append(
            SimCard(
                text=text,
                photo=photo,
                fingerprint=synthetic_fingerprint(fingerprint_size, label),
                appended_addresses=tuple(entry.get("appended_addresses") or ()),
                label=label,
            )
        )
    return cards


def synthetic_fingerprint(size: int, seed: object = None) -> bytes:
    """Deterministic opaque template bytes (not a real template), 0/512/1024 long."""
    if size not in FINGERPRINT_SIZES:
        raise ValueError(f"fingerprint size: expected 0/512/1024, got {size}")
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"fp:{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


class SamState:
    """One SAM module with an RF field: thread-safe, since tests place cards from outside."""

    def __init__(
        self,
        *,
        sam_id: bytes = DEFAULT_SAM_ID,
        card_left_mode: CardLeftMode = "answers",
        baud: int = 115200,
        sam_status: Status = Status.SUCCESS,
    ) -> None:
        if len(sam_id) != 16:
            raise ValueError(f"sam_id: expected 16 bytes, got {len(sam_id)}")
        if card_left_mode not in CARD_LEFT_MODES:
            raise ValueError(f"card_left_mode: expected answers/silent, got {card_left_mode!r}")
        if baud not in BAUD_INDEX:
            raise ValueError(f"baud: expected one of {sorted(BAUD_INDEX)}, got {baud}")
        self.sam_id = sam_id
        self.card_left_mode: CardLeftMode = card_left_mode
        self.power_on_baud = baud
        self.baud = baud
        self.sam_status = sam_status  # e.g. 0x60/0x66 to simulate a broken or unlicensed module
        self.lock = threading.RLock()
        self.card: SimCard | None = None
        self.found = False
        self.selected = False
        self.consumed = False
        self.reads = 0  # successful 30 01 / 30 10 answers, for tests and the demo

    # ---- the card on the field ------------------------------------------------------------

    def place(self, card: SimCard) -> None:
        with self.lock:
            self.card = card
            self.found = self.selected = self.consumed = False

    def remove(self) -> None:
        with self.lock:
            self.card = None
            self.found = self.selected = self.consumed = False

    def power_cycle(self) -> None:
        """USB re-enumeration re-powers the module: default rate, no RF session."""
        with self.lock:
            self.baud = self.power_on_baud
            self.found = self.selected = self.consumed = False

    # ---- requests ------------------------------------------------------------------------

    def handle(self, request: Request, transient: Status | None = None) -> Response:
        """Answer one well-formed request; `transient` forces a card-side failure status."""
        command = command_for(request)
        if command is None:
            return Response(Status.HOST_COMMAND_ERROR)
        if len(request.data) != (1 if command.takes_data else 0):
            return Response(Status.HOST_LENGTH_ERROR)
        with self.lock:
            if self.sam_status != Status.SUCCESS:
                return Response(self.sam_status)
            if transient is not None and command in (SELECT_CARD, *_READS) and self.card:
                return Response(transient)
            return self._dispatch(request)

    def _dispatch(self, request: Request) -> Response:
        command = command_for(request)
        if command in (SAM_STATUS, SET_MAX_RF_BYTES):
            return Response(Status.SUCCESS)
        if command is RESET_SAM:
            self.found = self.selected = False
            return Response(Status.SUCCESS)
        if command is READ_SAM_ID:
            return Response(Status.SUCCESS, self.sam_id)
        if command is FIND_CARD:
            if self.card is None or (self.consumed and self.card_left_mode == "silent"):
                return Response(Status.FIND_FAILED)
            self.found = True
            return Response(Status.CARD_FOUND, bytes(4))
        if command is SELECT_CARD:
            if self.card is None or not self.found:
                return Response(Status.SELECT_FAILED)
            self.selected = True
            return Response(Status.SUCCESS, bytes(8))
        if request.cmd == 0x60:
            # The caller sends the acknowledgement at the old rate, then applies `baud`.
            self.baud = _BAUD_BY_INDEX[request.para]
            return Response(Status.SUCCESS)
        return self._read(request)

    def _read(self, request: Request) -> Response:
        card = self.card
        if card is None or not self.selected:
            return Response(Status.READ_FAILED)
        command = command_for(request)
        if command is READ_APPENDED_ADDRESS:
            if not card.appended_addresses:
                return Response(Status.NO_CONTENT)
            return Response(Status.SUCCESS, encode_appended_addresses(card.appended_addresses))
        if command is READ_MANAGEMENT_NUMBER:
            return Response(Status.SUCCESS, card.management_number)
        fingerprint = card.fingerprint if command is READ_BASE_FINGERPRINT else None
        self.consumed = True
        self.reads += 1
        return Response(Status.SUCCESS, encode_base_message(card.text, card.photo, fingerprint))
