"""What templates show: a guest on the check-in screen, a stay in a list, a delivery state.

Templates get plain values from here (names of codes in the page's language, ages, masked
numbers), so they stay free of logic and of personal data they should not show.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sync.fields import parse_utc
from sync.privacy import mask_id_number
from terminal.desk.draft import DraftGuest
from terminal.domain.codes import code_tables
from terminal.store import outbox
from terminal.store.outbox import OutboxState

CARD_TYPE_NAMES = {
    "resident": ("Resident ID card", "居民身份证"),
    "hk_mo_tw_residence": ("HK/Macao/Taiwan residence permit", "港澳台居民居住证"),
    "foreign_permanent": ("Foreign permanent resident ID card", "外国人永久居留身份证"),
}


def zh(locale: str) -> bool:
    return locale.startswith("zh")


def code_name(table: str, code: str | None, locale: str) -> str:
    if not code:
        return ""
    tables = code_tables()
    entry = {"sexes": tables.sexes, "countries": tables.countries,
             "relationships": tables.relationships}[table].get(code)
    if entry is None:
        return code
    return entry["name_zh"] if zh(locale) else entry["name_en"]


def document_name(type_code: str, locale: str) -> str:
    doc = code_tables().document_types.get(type_code)
    if doc is None:
        return type_code
    return doc.name_zh if zh(locale) else doc.name_en


@dataclass(frozen=True, slots=True)
class GuestView:
    guest_id: str
    role: str
    name: str
    name_en: str
    sex: str
    nation: str
    birth_date: str
    age: int
    minor: bool
    id_number: str  # in full: the registration is being made
    address: str
    valid: str
    expired: bool
    card_type: str
    source: str
    read_at: float
    foreign: bool = False  # the nation row shows the nationality, under its own label
    visa: str = ""  # type, number, stay permitted, entry: a passport's visa in one line


def guest_view(d: DraftGuest, today: date, locale: str) -> GuestView:
    g, doc = d.guest, d.guest.document
    if doc.long_term:
        valid = ("长期" if zh(locale) else "long-term")
    else:
        valid = doc.valid_until.isoformat() if doc.valid_until else "—"
    if doc.valid_from:
        valid = f"{doc.valid_from.isoformat()} – {valid}"
    elif valid != "—":
        valid = ("至 " if zh(locale) else "until ") + valid
    nation = code_tables().nations.get(g.nation_code or "", "") if g.nation_code else ""
    foreign = not nation and g.nationality != "CHN"
    if not nation:
        nation = code_name("countries", g.nationality, locale)
    card_type = (CARD_TYPE_NAMES.get(d.card.card_type.value, ("", ""))[1 if zh(locale) else 0]
                 if d.card is not None else document_name(doc.type_code, locale))
    return GuestView(
        guest_id=g.guest_id, role=g.role, name=g.name or "", sex=code_name("sexes", g.sex, locale),
        name_en=" ".join(p for p in (g.surname_en, g.given_names_en) if p),
        nation=nation, birth_date=g.birth_date.isoformat(), age=g.age_on(today),
        minor=g.is_minor(today), id_number=doc.number, address=g.address or "", valid=valid,
        expired=bool(doc.valid_until and not doc.long_term and doc.valid_until < today),
        card_type=card_type, source=doc.source, read_at=d.read_at, foreign=foreign,
        visa=_visa_line(doc.visa, locale) if doc.visa is not None else "")


def _visa_line(visa: Any, locale: str) -> str:
    """"L 签证 V1234567 · 停留至 2026-12-31 · 2026-11-20 广州白云机场入境" (or its English)."""
    chinese = zh(locale)
    parts = [(f"{visa.visa_type} 签证" if chinese else f"visa {visa.visa_type}")
             if visa.visa_type else ("免签" if chinese else "visa-free")]
    if visa.visa_number:
        parts[0] += f" {visa.visa_number}"
    if visa.stay_until:
        parts.append(("停留至 " if chinese else "stay until ") + visa.stay_until.isoformat())
    entry = " ".join(p for p in (visa.entry_date.isoformat() if visa.entry_date else "",
                                 visa.entry_port or "") if p)
    if entry:
        parts.append(entry + (" 入境" if chinese else " entry"))
    return " · ".join(parts)


def local_time(utc_text: str | None, zone: ZoneInfo, *, with_date: bool = True) -> str:
    if not utc_text:
        return ""
    at = parse_utc(utc_text).astimezone(zone)
    return at.strftime("%m-%d %H:%M" if with_date else "%H:%M")


def local_day(utc_text: str, zone: ZoneInfo) -> str:
    """The guesthouse's calendar day of a UTC time ("today" is the clerk's today)."""
    return parse_utc(utc_text).astimezone(zone).date().isoformat()


def masked(number: str | None) -> str:
    return mask_id_number(number)


@dataclass(frozen=True, slots=True)
class DeliverySummary:
    state: str  # queued | delivered | rejected | superseded
    receipt: str | None = None
    reject_code: str | None = None
    reject_field: str | None = None
    reject_message: str | None = None
    acknowledged_at: str | None = None  # when the police server's receipt came


def delivery_by_stay(conn: sqlite3.Connection, stay_ids: list[str]) -> dict[str, DeliverySummary]:
    """One state per stay: rejected beats queued beats delivered (what needs the clerk most)."""
    out: dict[str, tuple[int, DeliverySummary]] = {}
    for row in outbox.delivery_rows(conn, stay_ids):
        rank = _RANK[row.state]
        current = out.get(row.stay_id)
        if current is None or rank >= current[0]:
            out[row.stay_id] = rank, DeliverySummary(
                _SHOWN_AS.get(row.state, row.state.value), row.receipt, row.reject_code,
                row.reject_field, row.reject_message, row.acknowledged_at)
    return {stay_id: shown for stay_id, (_, shown) in out.items()}


_RANK = {OutboxState.REJECTED: 3, OutboxState.QUEUED: 2, OutboxState.SENT: 2,
         OutboxState.ACKNOWLEDGED: 1, OutboxState.SUPERSEDED: 0}
_SHOWN_AS = {OutboxState.SENT: "queued", OutboxState.ACKNOWLEDGED: "delivered"}
