"""The audit log for people: each row's action in Chinese and its query in words.

A row's `query` column is canonical JSON with codes and ids (what the chain hashes, so it stays
as written). The page shows instead "证件号码 4401…，场所 演示旅馆（4401060001）" for a search and
"演示旅馆 306 房 2026-12-06 · 张三" for a stay view, resolving stay and guest ids in one query
each for the rows shown. An id no longer found is shown shortened, never dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, select

from central import clock
from central.db.tables import sites, stay_guests, stays
from central.police import words

_DAYS = ("date_from", "date_to")


def render(engine: Engine, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    shown = [dict(r, parsed=_parse(r["query"])) for r in rows]
    stay_ids = {
        q["stay_id"]
        for r in shown
        if isinstance(q := r["parsed"], dict) and isinstance(q.get("stay_id"), str)
    }
    sites_wanted = {
        q["site"]
        for r in shown
        if isinstance(q := r["parsed"], dict) and isinstance(q.get("site"), str)
    }
    titles, guests, site_names = _lookups(engine, stay_ids, sites_wanted)
    for row in shown:
        row["action_name"] = words.ACTION.get(row["action"], row["action"])
        row["role_name"] = words.USER_ROLE.get(row["role"], row["role"])
        row["what"] = describe(row["parsed"], titles, guests, site_names)
    return shown


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _lookups(
    engine: Engine, stay_ids: set[str], site_codes: set[str]
) -> tuple[dict[str, str], dict[tuple[str, str], str], dict[str, str]]:
    titles: dict[str, str] = {}
    guests: dict[tuple[str, str], str] = {}
    site_names: dict[str, str] = {}
    with engine.connect() as conn:
        if site_codes:
            site_names = dict(
                conn.execute(
                    select(sites.c.code, sites.c.name).where(sites.c.code.in_(sorted(site_codes)))
                ).all()
            )
        if stay_ids:
            wanted = sorted(stay_ids)
            for row in conn.execute(
                select(
                    stays.c.stay_id,
                    stays.c.room,
                    stays.c.checked_in_at,
                    sites.c.name,
                    stays.c.site_code,
                )
                .outerjoin(sites, sites.c.code == stays.c.site_code)
                .where(stays.c.stay_id.in_(wanted))
            ):
                titles[row.stay_id] = " ".join(
                    p
                    for p in (
                        row.name or row.site_code,
                        f"{row.room} 房" if row.room else "",
                        clock.show(row.checked_in_at)[:10],
                    )
                    if p
                )
            for row in conn.execute(
                select(stay_guests.c.stay_id, stay_guests.c.guest_id, stay_guests.c.name).where(
                    stay_guests.c.stay_id.in_(wanted)
                )
            ):
                guests[(row.stay_id, row.guest_id)] = row.name or ""
    return titles, guests, site_names


def describe(
    query: Any,
    titles: dict[str, str],
    guests: dict[tuple[str, str], str],
    site_names: dict[str, str],
) -> str:
    """One row's query in words."""
    if not isinstance(query, dict):
        return str(query)
    parts = []
    if isinstance(query.get("stay_id"), str):
        stay_id = query["stay_id"]
        parts.append(f"住宿记录 {titles.get(stay_id) or '（未找到 ' + stay_id[:8] + '…）'}")
        if isinstance(query.get("guest_id"), str):
            name = guests.get((stay_id, query["guest_id"]))
            parts.append(f"旅客 {name or '（未找到）'}")
    for key, value in query.items():
        if (
            key in ("stay_id", "guest_id", "per_page")
            or value in (None, "")
            or (key == "page" and value == 1)
        ):
            continue
        parts.append(f"{words.QUERY_KEY.get(key, key)} {_value(key, value, site_names)}")
    return "，".join(parts) or "（无条件）"


def _value(key: str, value: Any, site_names: dict[str, str]) -> str:
    if key == "site":
        name = site_names.get(str(value))
        return f"{name}（{value}）" if name else str(value)
    if key == "card_type":
        return words.document_type(str(value))
    if key == "nationality":
        return words.country(str(value))
    if key == "name":
        return f"含“{value}”"
    if key == "role":
        return words.USER_ROLE.get(str(value), str(value))
    if key == "format":
        return str(value).upper()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(str(v)[:16] for v in value) or "无"
    if isinstance(value, dict):
        return "，".join(f"{words.QUERY_KEY.get(k, k)} {v}" for k, v in value.items() if v)
    return str(value)
