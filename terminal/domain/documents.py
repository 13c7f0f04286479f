"""Identity documents: read from a card (raw text block and WLT photo kept) or typed by hand."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date

from drivers.idcard.reading import CardRead
from terminal.domain.attachments import MrzEvidence
from terminal.domain.codes import code_tables

CARD = "card"
MANUAL = "manual"
SCAN = "scan"  # read from the document's MRZ by a scanner, every check digit verified


@dataclass(frozen=True, slots=True)
class CardEvidence:
    """What the reader returned, verbatim, so the record can be re-decoded and proven later.

    The fingerprint block is deliberately not kept: it is biometric data the registration does
    not need.
    """

    card_type: str
    card_version: str | None
    text_block_b64: str
    photo_wlt_b64: str
    photo_sha256: str
    sam_id: str | None
    id_number_issues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Visa:
    """Visa and entry of a foreign guest; every field optional (visa-free entry exists)."""

    visa_type: str | None = None
    visa_number: str | None = None
    stay_until: date | None = None  # permitted stay until
    entry_date: date | None = None
    entry_port: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    type_code: str  # key of data/document_types.json
    number: str
    source: str  # CARD, MANUAL or SCAN
    manual_reason: str | None = None  # why the card could not be read; required when MANUAL
    issuing_country: str | None = None  # ISO 3166 alpha-3
    issuing_authority: str | None = None
    valid_from: date | None = None
    valid_until: date | None = None  # None: long-term or not printed
    long_term: bool = False
    pass_number: str | None = None  # HK/Macau/Taiwan residence permit: the travel-pass number
    issue_count: int | None = None
    visa: Visa | None = None
    card: CardEvidence | None = None
    mrz: MrzEvidence | None = None  # scanned: the MRZ as read and its checks

    def key(self) -> tuple[str, str]:
        """Identifies the document across stays (for the "already in house" check)."""
        return (self.type_code, self.number.strip().upper())


def document_from_card(card: CardRead) -> Document:
    doc_type = code_tables().document_type_for_card(card.card_type.value)
    return Document(
        type_code=doc_type.code,
        number=card.id_number,
        source=CARD,
        issuing_country="CHN",
        issuing_authority=card.authority,
        valid_from=card.valid_from,
        valid_until=card.valid_until,
        long_term=card.long_term,
        pass_number=card.pass_number,
        issue_count=card.issue_count,
        card=CardEvidence(
            card_type=card.card_type.value,
            card_version=card.card_version,
            text_block_b64=base64.b64encode(card.text_block).decode("ascii"),
            photo_wlt_b64=base64.b64encode(card.photo_wlt).decode("ascii"),
            photo_sha256=card.photo_sha256,
            sam_id=card.sam_id,
            id_number_issues=tuple(card.id_number_issues),
        ),
    )
