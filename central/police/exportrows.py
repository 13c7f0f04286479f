"""The rows of an export, one per guest, every code as its Chinese name, produced a chunk of
stays at a time so that memory does not grow with the number of rows.

The search gives the stays in order (at most MAX_ROWS, their own small rows); for each chunk of
CHUNK stays the guests, the site names and the registering events' payloads are read, turned
into rows and forgotten. Values are typed for the spreadsheet: `datetime` (Beijing time) for
times, `date` for dates, `str` for everything else, document numbers included (text, never a
number: an 18-digit number would lose its last digits).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from central import clock
from central.db.tables import events, sites
from central.police import record, words
from central.police.search import attach_guests

CHUNK = 500
Value = str | date | datetime | None


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    width: int  # characters, for the XLSX
    kind: str = "text"  # text | datetime | date | number (document numbers are text)


COLUMNS = (
    Column("入住记录号", 38),
    Column("场所名称", 24),
    Column("场所编码", 12),
    Column("房间", 8),
    Column("状态", 8),
    Column("入住时间（北京时间）", 20, "datetime"),
    Column("退房时间（北京时间）", 20, "datetime"),
    Column("时间已校正", 10),
    Column("姓名", 16),
    Column("英文姓名", 20),
    Column("身份", 8),
    Column("性别", 6),
    Column("出生日期", 12, "date"),
    Column("民族", 8),
    Column("国籍", 14),
    Column("证件类型", 18),
    Column("证件号码", 22, "number"),
    Column("证件有效期至", 12, "date"),
    Column("签发机关", 22),
    Column("登记方式", 14),
    Column("住址", 36),
    Column("电话", 14),
    Column("签证种类", 8),
    Column("签证号码", 14),
    Column("停留期至", 12, "date"),
    Column("入境日期", 12, "date"),
    Column("入境口岸", 16),
    Column("同行成年人", 12),
    Column("监护人", 12),
    Column("监护人电话", 14),
    Column("监护人关系", 12),
    Column("已联系监护人", 12),
    Column("旅客入住时间（北京时间）", 20, "datetime"),
    Column("旅客退房时间（北京时间）", 20, "datetime"),
    Column("核验提示及放行原因", 40),
    Column("登记操作员", 10),
    Column("终端", 24),
)
HEADER = tuple(c.header for c in COLUMNS)
DOCUMENT_NUMBER = HEADER.index("证件号码")


def rows(conn: Connection, stays: Sequence[dict[str, Any]]) -> Iterator[list[Value]]:
    """One row per guest (a stay without guests yet: one row), in the stays' order."""
    site_names: dict[str, str] = {}
    for start in range(0, len(stays), CHUNK):
        chunk = [dict(s) for s in stays[start : start + CHUNK]]
        attach_guests(conn, chunk)
        _site_names(conn, {s["site_code"] for s in chunk} - site_names.keys(), site_names)
        registered = _registering_events(conn, [s["stay_id"] for s in chunk])
        for stay in chunk:
            yield from _stay_rows(stay, site_names, registered.get(stay["stay_id"], []))


def _site_names(conn: Connection, codes: set[str], into: dict[str, str]) -> None:
    if codes:
        into.update(
            {
                code: name
                for code, name in conn.execute(
                    select(sites.c.code, sites.c.name).where(sites.c.code.in_(sorted(codes)))
                )
            }
        )


def _registering_events(conn: Connection, stay_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    query = (
        select(
            events.c.stay_id, events.c.kind, events.c.payload, events.c.operator, events.c.device_id
        )
        .where(
            events.c.stay_id.in_(stay_ids), events.c.kind.in_(("check_in", "add_guest", "amend"))
        )
        .order_by(events.c.stay_id, events.c.device_id, events.c.sequence)
    )
    for row in conn.execute(query):
        found.setdefault(row.stay_id, []).append(
            {
                "kind": row.kind,
                "operator": row.operator,
                "device_id": row.device_id,
                "data": record.payload_data(row.payload),
            }
        )
    return found



def _stay_rows(
    stay: dict[str, Any], site_names: dict[str, str], registering: list[dict[str, Any]]
) -> Iterator[list[Value]]:
    fields = record.guests_as_registered(registering)
    names = {g["guest_id"]: g.get("name") or "" for g in stay["guests"]}
    found = record.findings(registering, names)
    check_in = next((e for e in registering if e["kind"] == "check_in"), None)
    head: list[Value] = [
        stay["stay_id"],
        site_names.get(stay["site_code"], ""),
        stay["site_code"],
        stay["room"] or "",
        words.STATUS.get(stay["status"], stay["status"]),
        _time(stay["checked_in_at"]),
        _time(stay["checked_out_at"]),
        "是" if stay["time_corrected"] else "否",
    ]
    tail: list[Value] = [
        check_in["operator"] if check_in else "",
        check_in["device_id"] if check_in else stay["device_id"],
    ]
    for guest in stay["guests"] or [None]:
        if guest is None:
            yield [*head, *[None] * (len(COLUMNS) - len(head) - 2), *tail]
            continue
        sent = fields.get(guest["guest_id"]) or {}
        doc = sent.get("document") or {}
        visa = doc.get("visa") or {}
        guardian = sent.get("guardian") if isinstance(sent.get("guardian"), dict) else {}
        latin = " ".join(str(p) for p in (sent.get("surname_en"), sent.get("given_names_en")) if p)
        mine = [
            f"{f['severity']}：{f['message']}"
            + (f"（放行原因：{f['override']}）" if f["override"] else "")
            for f in found
            if f["guest_id"] in (guest["guest_id"], None)
        ]
        yield [
            *head,
            guest.get("name") or "",
            latin,
            words.ROLE.get(guest.get("role") or "", guest.get("role") or ""),
            words.sex(sent.get("sex")),
            _date(sent.get("birth_date")),
            words.nation(sent.get("nation_code")),
            words.country(guest.get("nationality")),
            words.document_type(guest.get("document_type")),
            guest.get("document_number") or "",
            _date(doc.get("valid_until")),
            doc.get("issuing_authority") or "",
            words.SOURCE.get(doc.get("source") or "", doc.get("source") or ""),
            sent.get("address") or "",
            sent.get("phone") or "",
            visa.get("visa_type") or "",
            visa.get("visa_number") or "",
            _date(visa.get("stay_until")),
            _date(visa.get("entry_date")),
            visa.get("entry_port") or "",
            names.get(str(sent.get("accompanied_by") or ""), ""),
            guardian.get("name") or "",
            guardian.get("phone") or "",
            words.relationship(
                guardian.get("relationship") or sent.get("relationship") if guardian else None
            ),
            ("是" if guardian.get("contacted") else "否") if guardian else "",
            _time(guest.get("checked_in_at")),
            _time(guest.get("checked_out_at") or stay["checked_out_at"]),
            "；".join(mine),
            *tail,
        ]


def _time(stamp: str | None) -> datetime | None:
    shown = clock.show(stamp)
    try:
        return datetime.fromisoformat(shown) if shown else None
    except ValueError:
        return None


def _date(value: Any) -> date | str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return str(value)  # as sent: never dropped
