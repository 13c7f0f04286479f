"""Exports of a search's results, one row per guest of each stay, newest stay first, every
code written as its Chinese name (central/police/exportrows.py), times in Beijing time:

* XLSX (the default; central/police/xlsx.py): typed cells, document numbers as text.
* CSV: UTF-8 with a BOM so that spreadsheet programs (Excel, WPS) read the Chinese names
  correctly, CRLF. A spreadsheet opening a CSV turns an 18-digit number into 4.40106E+17 and
  loses its last digits, so document numbers are written after a tab, which makes Excel,
  WPS and LibreOffice keep the cell as text (a program reading the CSV strips it).

Exports are capped (`MAX_ROWS` stays): a larger case narrows its search. A cell that a
spreadsheet could read as a formula is prefixed with a quote (OWASP "CSV injection"): one whose
first character is a tab, carriage return or other control character, or whose first character
after any leading blanks and control or format characters is =, +, - or @ (or their full-width
forms, which some CJK spreadsheet programs take for them). The value itself is kept whole.
Both formats are written to a temporary file a chunk of stays at a time (memory does not grow
with the rows), then streamed to the officer.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from typing import IO, Any

from sqlalchemy import Connection

from central.accounts.principals import Principal
from central.police.exportrows import DOCUMENT_NUMBER, HEADER, Value
from central.police.query_deadline import bounded
from central.police.search import SearchQuery, statement

BOM = "\ufeff"
MAX_ROWS = 10_000
FORMULA_STARTS = frozenset("=+-@＝＋－＠")
# Skipped before looking for a formula start: spreadsheets trim some of these, and a tab or
# carriage return may end the cell's first line in a program that splits on it.
_LEADING = frozenset(("Cc", "Cf", "Zs", "Zl", "Zp"))
FORMATS = {"xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "anju-export.xlsx"),
           "csv": ("text/csv; charset=utf-8", "anju-export.csv")}


def collect(conn: Connection, q: SearchQuery, who: Principal, timeout_s: float
            ) -> list[dict[str, Any]]:
    """The stays of the search, newest first, up to MAX_ROWS (their own rows only: guests and
    payloads are read a chunk at a time while writing). One query, not page after page:
    OFFSET paging would make a long export quadratic."""
    with bounded(conn, timeout_s):
        return [dict(r._mapping) for r in conn.execute(statement(conn, q, who, limit=MAX_ROWS))]


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


def guarded(value: Any) -> str:
    """The cell's text, quote-prefixed where a spreadsheet could take it for a formula."""
    text = "" if value is None else str(value)
    return "'" + text if formula_risk(text) else text


def _text(value: Value) -> str:
    if isinstance(value, datetime):
        return value.isoformat(" ", "seconds")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def write_csv(rows: Iterable[list[Value]], out: IO[bytes]) -> int:
    """Write the CSV to a binary file; returns the number of data rows."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    text.write(BOM)
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(HEADER)
    count = 0
    for row in rows:
        cells = [guarded(_text(v)) for v in row]
        if cells[DOCUMENT_NUMBER]:
            cells[DOCUMENT_NUMBER] = "\t" + cells[DOCUMENT_NUMBER]
        writer.writerow(cells)
        count += 1
    text.flush()
    text.detach()
    return count
