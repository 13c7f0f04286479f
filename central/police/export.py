"""CSV export of a search's results: UTF-8 with a BOM so that spreadsheet programs (Excel, WPS)
read the Chinese names correctly; one row per guest of each stay, newest stay first; times in
Beijing time (central/police/beijing.py).

Exports are capped (`MAX_ROWS` stays): a larger case narrows its search. A cell that a
spreadsheet could read as a formula is prefixed with a quote (OWASP "CSV injection"): one whose
first character is a tab, carriage return or other control character, or whose first character
after any leading blanks and control or format characters is =, +, - or @ (or their full-width
forms, which some CJK spreadsheet programs take for them). The value itself is kept whole.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from central.accounts import Principal
from central.police.beijing import show
from central.police.bounded import bounded
from central.police.search import SearchQuery, attach_guests, statement

BOM = "\ufeff"
MAX_ROWS = 10_000
FORMULA_STARTS = frozenset("=+-@＝＋－＠")
# Skipped before looking for a formula start: spreadsheets trim some of these, and a tab or
# carriage return may end the cell's first line in a program that splits on it.
_LEADING = frozenset(("Cc", "Cf", "Zs", "Zl", "Zp"))
HEADER = ("入住记录号", "场所编码", "房间", "状态", "入住时间（北京时间）", "退房时间（北京时间）",
          "时间已校正",
          "姓名", "证件类型", "证件号码", "国籍", "身份")


def collect(conn: Connection, q: SearchQuery, who: Principal, timeout_s: float
            ) -> list[dict[str, Any]]:
    """All stays of the search, newest first, up to MAX_ROWS, guests attached (one query for
    the stays, not page after page: OFFSET paging would make a long export quadratic)."""
    with bounded(conn, timeout_s):
        query = statement(conn, q, who, limit=MAX_ROWS)
        found = [dict(r._mapping) for r in conn.execute(query)]
        attach_guests(conn, found)
    return found


def formula_risk(text: str) -> bool:
    """Could a spreadsheet take this cell for a formula (or start one after a control char)?"""
    if not text:
        return False
    if unicodedata.category(text[0]) == "Cc":
        return True
    for char in text:
        if char in FORMULA_STARTS:
            return True
        if unicodedata.category(char) not in _LEADING:
            return False
    return False


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if formula_risk(text) else text


def to_csv(stays: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for stay in stays:
        writer.writerows(stay_rows(stay))
    return out.getvalue()


def stay_rows(stay: dict[str, Any], before: tuple[Any, ...] = ()) -> list[list[str]]:
    """One stay's rows (one per guest) as HEADER's cells, formula-guarded; `before`: cells put
    in front of each row (the change feed's cursor and change: central/feed/pages.py)."""
    stay_cells = [stay["stay_id"], stay["site_code"], stay["room"], stay["status"],
                  show(stay["checked_in_at"]), show(stay["checked_out_at"]),
                  "是" if stay["time_corrected"] else "否"]
    return [[_cell(v) for v in (*before, *stay_cells, guest.get("name"),
                                guest.get("document_type"), guest.get("document_number"),
                                guest.get("nationality"), guest.get("role"))]
            for guest in stay["guests"] or [{}]]
