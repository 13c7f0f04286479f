"""The read side of the feed: a page is planned, audited, then streamed.

1. Plan: the positions after the cursor that the token may see (its districts), up to the
   limit: integers only, one index range. Positions are commit-ordered (central/feed/log.py),
   so no record can later appear below the last one planned: the page is final.
2. Audit: one hash-chained row (action `feed`, the system as user, role `feed`, the cursor range,
   the count) before a record is sent; a page without records writes none (nothing was seen).
3. Stream: the planned records in chunks of CHUNK positions, each chunk its own short
   transaction, so memory stays flat in the page size and no transaction lasts as long as a
   slow client. Formats: FORMATS (NDJSON; CSV with the codes as sent, each cell through the police
   export's formula guard; an XLSX writer plugs in here the same way).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from central.accounts import audit
from central.clock import show
from central.db.tables import feed_log, site_districts
from central.errors import BadRequestError
from central.feed.tokens import FeedClient
from central.police import export

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
CHUNK = 500
# The feed's CSV keeps the codes as sent (systems map them; the XLSX/CSV export for people
# writes names, central/police/exportrows.py), guarded against formulas like every export.
STAY_HEADER = ("入住记录号", "场所编码", "房间", "状态", "入住时间（北京时间）",
               "退房时间（北京时间）", "时间已校正", "姓名", "证件类型", "证件号码", "国籍", "身份")
CSV_HEADER = ("游标", "变更", "事件号", *STAY_HEADER)


@dataclass(frozen=True, slots=True)
class Page:
    after: int
    positions: list[int]
    limit: int

    @property
    def last(self) -> int:
        """The cursor to resume after this page: its last record's, else where it started."""
        return self.positions[-1] if self.positions else self.after

    @property
    def more(self) -> bool:
        return len(self.positions) == self.limit


def parse_cursor(raw: str | None) -> int:
    text = (raw or "0").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise BadRequestError(
            "after is a cursor from this feed (digits)", code="invalid_field", field="after"
        )
    return int(text)


def parse_limit(raw: str | None) -> int:
    text = (raw or str(DEFAULT_LIMIT)).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6 or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequestError(f"limit is 1..{MAX_LIMIT}", code="invalid_field", field="limit")
    return int(text)


def take(engine: Engine, client: FeedClient, after: int, limit: int, fmt: str) -> Page:
    """Plan the page and write its audit row (when it has records)."""
    query = select(feed_log.c.position).where(feed_log.c.position > after)
    if client.districts is not None:
        query = query.where(
            feed_log.c.site_code.in_(
                select(site_districts.c.site_code).where(
                    site_districts.c.district.in_(client.districts)
                )
            )
        )
    with engine.connect() as conn, conn.begin():
        positions = list(conn.execute(query.order_by(feed_log.c.position).limit(limit)).scalars())
    page = Page(after, positions, limit)
    if positions:
        audit.append(
            engine,
            client.principal(),
            "feed",
            client.system,
            {
                "token": client.token_id,
                "after": str(after),
                "last": str(page.last),
                "districts": list(client.districts) if client.districts else None,
                "format": fmt,
            },
            len(positions),
        )
    return page


def stored(engine: Engine, positions: list[int]) -> Iterator[tuple[int, str]]:
    """(position, record JSON) of the planned positions, in order, CHUNK at a time."""
    for start in range(0, len(positions), CHUNK):
        chunk = positions[start : start + CHUNK]
        with engine.connect() as conn, conn.begin():
            rows = conn.execute(
                select(feed_log.c.position, feed_log.c.record)
                .where(feed_log.c.position.in_(chunk))
                .order_by(feed_log.c.position)
            ).all()
        yield from ((int(p), r) for p, r in rows)


def ndjson(records: Iterable[tuple[int, str]]) -> Iterator[bytes]:
    """One record a line; the cursor spliced in front of the stored object (no re-encoding)."""
    lines: list[str] = []
    for position, record in records:
        lines.append(f'{{"cursor":"{position}",{record[1:]}\n')
        if len(lines) >= 100:
            yield "".join(lines).encode()
            lines = []
    if lines:
        yield "".join(lines).encode()


def csv_rows(records: Iterable[tuple[int, str]]) -> Iterator[bytes]:
    """The police export's CSV (BOM, CRLF, one row per guest), with cursor, change and event id
    in front."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    out.write(export.BOM)
    writer.writerow(CSV_HEADER)
    for count, (position, record) in enumerate(records, 1):
        value = json.loads(record)
        event_id = value["event"]["event_id"] if value["event"] else ""
        writer.writerows(_stay_rows(value["stay"], (position, value["change"], event_id)))
        if count % 100 == 0:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    yield out.getvalue().encode()


FORMATS: dict[str, tuple[str, Callable[[Iterable[tuple[int, str]]], Iterator[bytes]]]] = {
    "ndjson": ("application/x-ndjson; charset=utf-8", ndjson),
    "csv": ("text/csv; charset=utf-8", csv_rows),
}


def format_of(raw: str | None) -> str:
    name = (raw or "ndjson").strip().lower()
    if name not in FORMATS:
        raise BadRequestError(
            f"format is one of {', '.join(FORMATS)}", code="invalid_field", field="format"
        )
    return name


def _stay_rows(stay: dict[str, Any], before: tuple[Any, ...]) -> list[list[str]]:
    """One stay's rows (one per guest) under STAY_HEADER, with `before` in front of each."""
    stay_cells = [stay["stay_id"], stay["site_code"], stay["room"], stay["status"],
                  show(stay["checked_in_at"]), show(stay["checked_out_at"]),
                  "是" if stay["time_corrected"] else "否"]
    return [[export.guarded(v) for v in (*before, *stay_cells, guest.get("name"),
                                         guest.get("document_type"), guest.get("document_number"),
                                         guest.get("nationality"), guest.get("role"))]
            for guest in stay["guests"] or [{}]]
