"""Everything a terminal registered for a stay, in words: each guest's fields, the findings the
terminal raised with the clerk's override reasons, and the amendments as old -> new.

The projection (`stay_guests`) holds only what search needs; the rest is in the stored event
payloads (check_in: `guests`, `findings`, `overrides`; add_guest: `guest`, ...). A guest's
fields are the ones of the latest check-in/add-guest carrying them, with the stay's
amendments of that guest applied in device order, so the page shows the record as it stands
while the history shows each change. Purged (withheld) events carry nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import codetables
from central import payloads
from central.police import words

Row = tuple[str, str]


def payload_data(payload: str | None) -> dict[str, Any]:
    """A stored event's `data` object (empty when withheld, purged or not an object)."""
    try:
        return payloads.data(payload)
    except (ValueError, AttributeError):
        return {}


def guests_as_registered(events: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """guest_id -> the guest's registered fields (wire JSON), amendments applied."""
    guests: dict[str, dict[str, Any]] = {}
    for event in events:
        data = event.get("data") or {}
        if event["kind"] == "check_in":
            for guest in data.get("guests") or []:
                if isinstance(guest, dict) and guest.get("guest_id"):
                    guests[guest["guest_id"]] = dict(guest)
        elif event["kind"] == "add_guest" and isinstance(data.get("guest"), dict):
            guest = data["guest"]
            if guest.get("guest_id"):
                guests[guest["guest_id"]] = dict(guest)
        elif event["kind"] == "amend":
            _apply(guests, str(data.get("field") or ""), data.get("new"))
    return guests


def _apply(guests: dict[str, dict[str, Any]], path: str, new: Any) -> None:
    """Set one amended field; each dict on the path is copied before it is changed, so the
    payloads' own dicts are never altered (guests are shallow copies: a deep copy of every
    guest, photo included, was a third of an export's time)."""
    parts = path.split(".")
    if len(parts) < 3 or parts[0] != "guest" or parts[1] not in guests:
        return
    node = guests[parts[1]]
    for key in parts[2:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            return
        node[key] = node = dict(child)
    node[parts[-1]] = new


def age_on(birth: str | None, day: str | None) -> int | None:
    """Whole years on `day` (both ISO dates); None if either is missing or malformed."""
    try:
        born, then = date.fromisoformat(str(birth)), date.fromisoformat(str(day)[:10])
    except ValueError:
        return None
    return then.year - born.year - ((then.month, then.day) < (born.month, born.day))


def guest_rows(guest: Mapping[str, Any], names: Mapping[str, str], on_day: str | None) -> list[Row]:
    """The guest's registered fields as (label, words) rows, empty fields left out."""
    doc = guest.get("document") or {}
    visa = doc.get("visa") or {}
    latin = " ".join(p for p in (guest.get("surname_en"), guest.get("given_names_en")) if p)
    age = age_on(guest.get("birth_date"), on_day)
    birth = str(guest.get("birth_date") or "")
    if birth and age is not None:
        birth += f"（入住时 {age} 岁{'，未成年' if age < 18 else ''}）"
    rows: list[Row] = [
        ("姓名", str(guest.get("name") or "")),
        ("英文姓名", latin),
        ("性别", words.sex(guest.get("sex"))),
        ("出生日期", birth),
        ("民族", words.nation(guest.get("nation_code"))),
        ("国籍", _with_code(words.country(guest.get("nationality")), guest.get("nationality"))),
        ("住址", str(guest.get("address") or "")),
        ("电话", str(guest.get("phone") or "")),
        ("证件类型", _with_code(words.document_type(doc.get("type_code")), doc.get("type_code"))),
        ("证件号码", str(doc.get("number") or "")),
        ("登记方式", _source(doc)),
        ("签发国", words.country(doc.get("issuing_country"))),
        ("签发机关", str(doc.get("issuing_authority") or "")),
        ("有效期", _validity(doc)),
        ("通行证号码", str(doc.get("pass_number") or "")),
        ("签发次数", str(doc.get("issue_count") or "")),
        ("签证种类", str(visa.get("visa_type") or "")),
        ("签证号码", str(visa.get("visa_number") or "")),
        ("停留期至", str(visa.get("stay_until") or "")),
        ("入境日期", str(visa.get("entry_date") or "")),
        ("入境口岸", str(visa.get("entry_port") or "")),
    ]
    if (
        doc.get("type_code") in codetables.names().passports
        and not visa
        and guest.get("nationality") not in (None, "CHN")
    ):
        rows.append(("签证", "未登记（免签入境或未填写）"))
    if guest.get("accompanied_by"):
        adult = names.get(str(guest["accompanied_by"]), "（不在本次入住中）")
        rows.append(("同行成年人", f"{adult}（{words.relationship(guest.get('relationship'))}）"))
    guardian = guest.get("guardian")
    if isinstance(guardian, dict):
        contacted = "已联系" if guardian.get("contacted") else "未联系"
        rows.append(
            (
                "监护人",
                f"{guardian.get('name') or ''}，电话 {guardian.get('phone') or ''}，"
                f"{words.relationship(guardian.get('relationship'))}，{contacted}",
            )
        )
    return [(label, value) for label, value in rows if value]


def _with_code(name: str, code: Any) -> str:
    return f"{name}（{code}）" if code and name and name != code else (name or str(code or ""))


def _source(doc: Mapping[str, Any]) -> str:
    source = str(doc.get("source") or "")
    text = words.SOURCE.get(source, source)
    if source == "manual" and doc.get("manual_reason"):
        text += f"（无法读卡原因：{doc['manual_reason']}）"
    mrz = doc.get("mrz")
    if source == "scan" and isinstance(mrz, dict):
        text += "（校验位全部通过）" if mrz.get("verified") else "（校验未全部通过）"
    return text


def _validity(doc: Mapping[str, Any]) -> str:
    start, until = doc.get("valid_from") or "", doc.get("valid_until") or ""
    end = "长期" if doc.get("long_term") else until
    if start and end:
        return f"{start} 至 {end}"
    return f"至 {end}" if end else start


def findings(events: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every finding the terminal raised at check-in and when guests were added, with the
    clerk's reason where a blocking one was let through."""
    out = []
    for event in events:
        data = event.get("data") or {}
        if event["kind"] not in ("check_in", "add_guest"):
            continue
        passed = {
            (o.get("code"), o.get("guest_id")): str(o.get("reason") or "")
            for o in data.get("overrides") or []
            if isinstance(o, dict)
        }
        for found in data.get("findings") or []:
            if not isinstance(found, dict):
                continue
            key = (found.get("code"), found.get("guest_id"))
            out.append(
                {
                    "guest": names.get(str(found.get("guest_id")), "")
                    if found.get("guest_id")
                    else "整单",
                    "severity": words.SEVERITY.get(
                        str(found.get("severity")), str(found.get("severity") or "")
                    ),
                    "message": str(found.get("message_zh") or found.get("message") or ""),
                    "override": passed.get(key, ""),
                    "guest_id": found.get("guest_id"),
                    "operator": str(event.get("operator") or ""),
                    "kind": words.KIND.get(event["kind"], event["kind"]),
                }
            )
    return out


def amendment(data: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, str]:
    path = str(data.get("field") or "")
    return {
        "field": words.field_name(path, dict(names)),
        "old": words.field_value(path, data.get("old"), dict(names)),
        "new": words.field_value(path, data.get("new"), dict(names)),
        "reason": str(data.get("reason") or ""),
    }
