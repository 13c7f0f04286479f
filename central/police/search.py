"""Police search: stays with their guests, newest first, paginated, with a bounded query time.

Filters (all optional, combined with AND; at least one personal or place filter is required,
so nobody pages through a city's registrations without saying what they look for):

    document      exact document number (upper-cased: the X of an ID number)
    name          partial, Chinese or Latin, case-insensitive (a trigram index on PostgreSQL)
    date_from/to  the stay overlaps [from 00:00, to 24:00) Beijing time
    site, room    exact; room only with site
    card_type     document type code (11 resident card, 93 permanent residence, 14 passport ...)
    nationality   ISO 3166 alpha-3

An officer limited to a district sees only the stays of that district's sites. Each value is a
bound parameter (never spliced into SQL) and LIKE wildcards typed by the user are escaped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, and_, func, literal, or_, select

from central.accounts.principals import Principal
from central.clock import day_start_utc
from central.db.tables import site_districts, sites, stay_guests, stays
from central.errors import BadRequestError
from central.police.freshness import Freshness
from central.police.query_deadline import bounded

PER_PAGE = 20
PROBE_LIMIT = 3000  # guest matches beyond which a search walks stays newest first
RECENT_GUESTS = 15_000  # newest guests tried first by an unfiltered name search
_CHUNK = 500
MAX_PER_PAGE = 100
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FIELDS = ("document", "name", "date_from", "date_to", "site", "room", "card_type",
           "nationality")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    document: str | None = None
    name: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    site: str | None = None
    room: str | None = None
    card_type: str | None = None
    nationality: str | None = None
    page: int = 1
    per_page: int = PER_PAGE

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> SearchQuery:
        """From form or query parameters (`from`/`to` accepted for the dates); validated."""
        values: dict[str, Any] = {}
        for key in _FIELDS:
            raw = params.get(key) or params.get({"date_from": "from", "date_to": "to"}.get(key, ""))
            text_value = str(raw).strip() if raw is not None else ""
            if len(text_value) > 64:
                raise BadRequestError(f"{key} longer than 64 characters", code="invalid_field",
                                      field=key)
            values[key] = text_value or None
        for key in ("date_from", "date_to"):
            if values[key] and not valid_day(values[key]):
                raise BadRequestError(f"{key} must be YYYY-MM-DD", code="invalid_field", field=key)
        if values["document"]:
            values["document"] = values["document"].upper()
        if values["nationality"]:
            values["nationality"] = values["nationality"].upper()
        values["page"] = _int(params.get("page"), 1, "page", 1, 10_000)
        values["per_page"] = _int(params.get("per_page"), PER_PAGE, "per_page", 1, MAX_PER_PAGE)
        query = cls(**values)
        if not any((query.document, query.name, query.site, query.date_from, query.date_to)):
            raise BadRequestError("give a document number, a name, a site or a date",
                                  code="missing_field", field="document")
        if query.room and not query.site:
            raise BadRequestError("a room needs its site", code="missing_field", field="site")
        return query

    def describe(self) -> dict[str, Any]:
        """The parameters as recorded in the audit log."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True, slots=True)
class SearchPage:
    stays: list[dict[str, Any]]  # each with "guests": [...]
    page: int
    has_more: bool
    freshness: Freshness | None = None  # searched on a standby (--read-db): how fresh


def _int(raw: Any, default: int, field: str, low: int, high: int) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw))
    except ValueError as err:
        raise BadRequestError(f"{field} must be a number", code="invalid_field",
                              field=field) from err
    if not low <= value <= high:
        raise BadRequestError(f"{field} must be {low}..{high}", code="invalid_field", field=field)
    return value


def valid_day(value: str) -> bool:
    if not _DATE.match(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:  # 2025-02-30
        return False
    return True


def like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def district_filter(query: Select[Any], who: Principal) -> Select[Any]:
    """Officers with a district: only stays at that district's sites."""
    if who.district is None:
        return query
    return query.where(stays.c.site_code.in_(
        select(site_districts.c.site_code).where(site_districts.c.district == who.district)))


def _guest_conditions(q: SearchQuery, *, bigrams: bool, case_folding: bool = True,
                      columns: Any = stay_guests.c) -> list[ColumnElement[bool]]:
    """`bigrams`: add the test the GIN index answers; `case_folding`: ILIKE folds more than
    LIKE on this database (PostgreSQL, not SQLite)."""
    conditions: list[ColumnElement[bool]] = []
    if q.document:
        conditions.append(columns.document_number == q.document)
    if q.name:
        pattern = f"%{like_escape(q.name)}%"
        # Han characters have no case: plain LIKE is several times faster than ILIKE on
        # PostgreSQL (measured 62 vs 348 ms on a 2-character scan of 166k guests).
        # SQLite: LIKE already ignores ASCII case, and ILIKE (lower() on both sides) folds
        # nothing more while tripling the cost of a scan (174 vs 62 ms at 420k guests).
        caseless = q.name.lower() == q.name.upper() or not case_folding
        conditions.append(columns.name.like(pattern, escape="\\") if caseless
                          else columns.name.ilike(pattern, escape="\\"))
        if bigrams and len(q.name) >= 2:
            # PostgreSQL: the bigram GIN index finds candidates (migration 0003); the LIKE
            # above keeps only the true substrings.
            conditions.append(func.anju_bigrams(columns.name).op("@>")(
                func.anju_bigrams(q.name)))
    if q.card_type:
        conditions.append(columns.document_type == q.card_type)
    if q.nationality:
        conditions.append(columns.nationality == q.nationality)
    return conditions


def _stay_conditions(q: SearchQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if q.site:
        conditions.append(stays.c.site_code == q.site)
    if q.room:
        conditions.append(stays.c.room == q.room)
    if q.date_to:  # days are Beijing days: what the officer means by a date
        conditions.append(stays.c.checked_in_at < day_start_utc(q.date_to, 1))
    if q.date_from:
        end = stays.c.checked_out_at  # still in house: overlaps any later range
        conditions.append(or_(end.is_(None), end >= day_start_utc(q.date_from)))
    return conditions


def statement(conn: Connection, q: SearchQuery, who: Principal, *,
              limit: int | None = None) -> Select[Any]:
    """Page `q.page` of `q.per_page` (+1, to tell whether more follow), or the first `limit`,
    newest check-in first.

    With guest filters (document, name, card type, nationality) the way to the stays depends
    on how many guests match, which only the data can tell. Without place, date or district
    filters, a name or nationality is first looked for among the newest RECENT_GUESTS guests
    (a page of a common fragment is there); otherwise a probe counts matches up to
    PROBE_LIMIT (it stops there):
    * a few (a document number, a rare name): sort them by their stay's check-in time (copied
      onto the guest rows) and fetch the page's stays; with place, date or district filters,
      fetch all of those stays, filter and sort them in SQL;
    * many (two common letters, a nationality): walk newest first on the indexes of migration
      0004 and stop at the page: matches are then dense, so a page is found after a few
      thousand index entries, where sorting every match cost seconds (a 2-letter Latin
      fragment matched ~10 % of 4M guests). Without place or date filters the walk reads only
      the covering guest index; with them it walks the stays (the filters bound the walk)
      and tests each one's guests.
    Either way the cost of page one stays bounded by about PROBE_LIMIT rows."""
    postgresql = conn.dialect.name == "postgresql"
    stay_conditions = _stay_conditions(q)
    query = district_filter(select(stays).where(*stay_conditions), who)
    guests = _guest_conditions(q, bigrams=postgresql, case_folding=postgresql)
    if not guests:
        return _page(query, stays.c, q, limit)
    unfiltered = not stay_conditions and who.district is None
    if unfiltered and not q.document:
        recent = _from_recent_guests(conn, q, limit)
        if recent is not None:
            return _newest_first(select(stays).where(stays.c.stay_id.in_(recent)), stays.c)
    probe = conn.execute(select(stay_guests.c.stay_id, stay_guests.c.stay_checked_in_at)
                         .where(*guests).limit(PROBE_LIMIT + 1)).all()
    if len(probe) <= PROBE_LIMIT and unfiltered:
        # The probe read each match's stay time: sort here and fetch only the page's stays
        # (fetching all ~2,000 stays of a common Han name to sort them was ~120 ms of a
        # 150 ms search at 2.5M stays).
        newest = sorted({(t is not None, t or "", stay_id) for stay_id, t in probe},
                        reverse=True)
        start, end = _page_bounds(q, limit)
        page = [stay_id for _, _, stay_id in newest[start:end]]
        return _newest_first(query.where(stays.c.stay_id.in_(page)), stays.c)
    if len(probe) <= PROBE_LIMIT:
        # Materialised: otherwise the planner, expecting the page among the first stays,
        # walks the newest-first index testing each stay against the list (measured 90 ms
        # for 919 ids at 300k stays, against a few ms to fetch and sort them).
        ids = sorted({stay_id for stay_id, _ in probe})
        picked = (query.where(stays.c.stay_id.in_(ids))
                  .cte("picked").prefix_with("MATERIALIZED"))
        return _page(select(picked), picked.c, q, limit)
    # Without the bigram test: recomputing bigrams per row costs more than the LIKE it spares.
    walk = _guest_conditions(q, bigrams=False, case_folding=postgresql)
    if unfiltered:
        keys = _page(select(stay_guests.c.stay_checked_in_at.label("checked_in_at"),
                            stay_guests.c.stay_id).where(*walk).distinct(),
                     stay_guests.c, q, limit, time_column="stay_checked_in_at").subquery()
        return _newest_first(select(stays).where(stays.c.stay_id.in_(select(keys.c.stay_id))),
                             stays.c)
    # A correlated subquery with LIMIT: evaluated per stay in index order (a semi-join would
    # let the planner collect every match again).
    hit = (select(literal(1)).where(stay_guests.c.stay_id == stays.c.stay_id, *walk)
           .limit(1).scalar_subquery())
    return _page(query.where(hit.is_not(None)), stays.c, q, limit)


def _page_bounds(q: SearchQuery, limit: int | None) -> tuple[int, int]:
    """[start, end) of the wanted stays in newest-first order (one extra: is there more?)."""
    if limit is not None:
        return 0, limit
    start = (q.page - 1) * q.per_page
    return start, start + q.per_page + 1


def _from_recent_guests(conn: Connection, q: SearchQuery, limit: int | None
                        ) -> list[str] | None:
    """The page's stay ids if the newest RECENT_GUESTS guests hold all of it, else None.

    For a fragment that many guests share (two Latin letters), even the probe is costly on
    PostgreSQL: its GIN bitmap holds every match before the first row comes out (280 ms for
    one bigram at 4M guests). The newest guests are one covering-index range, read in ~6 ms,
    and hold a page of such a name many times over; a rarer name falls through to the probe.
    """
    start, end = _page_bounds(q, limit)
    if end > RECENT_GUESTS // 10:
        return None
    recent = (select(stay_guests.c.stay_id, stay_guests.c.stay_checked_in_at,
                     stay_guests.c.name, stay_guests.c.nationality,
                     stay_guests.c.document_type)
              .order_by(stay_guests.c.stay_checked_in_at.desc().nulls_last(),
                        stay_guests.c.stay_id.desc())
              .limit(RECENT_GUESTS).subquery())
    found = conn.execute(
        select(recent.c.stay_checked_in_at, recent.c.stay_id)
        .where(*_guest_conditions(q, bigrams=False, columns=recent.c,
                                  case_folding=conn.dialect.name == "postgresql")).distinct()
        .order_by(recent.c.stay_checked_in_at.desc().nulls_last(), recent.c.stay_id.desc())
        .limit(end)).all()
    if len(found) < end:
        return None
    return [row.stay_id for row in found[start:end]]


def _newest_first(query: Select[Any], columns: Any, time_column: str = "checked_in_at"
                  ) -> Select[Any]:
    return query.order_by(columns[time_column].desc().nulls_last(), columns.stay_id.desc())


def _page(query: Select[Any], columns: Any, q: SearchQuery, limit: int | None, *,
          time_column: str = "checked_in_at") -> Select[Any]:
    start, end = _page_bounds(q, limit)
    return (_newest_first(query, columns, time_column).limit(end - start)
            .offset(start or None))


def search(conn: Connection, q: SearchQuery, who: Principal, timeout_s: float) -> SearchPage:
    with bounded(conn, timeout_s):
        rows = [dict(r._mapping) for r in conn.execute(statement(conn, q, who))]
        has_more = len(rows) > q.per_page
        rows = rows[:q.per_page]
        attach_guests(conn, rows)
    return SearchPage(rows, q.page, has_more)


def attach_guests(conn: Connection, rows: list[dict[str, Any]], *,
                  site_names: bool = True) -> None:
    """Add each stay's guests (main guest first) in one query, and its site's name."""
    by_stay: dict[str, list[dict[str, Any]]] = {r["stay_id"]: [] for r in rows}
    wanted = list(by_stay)
    for start in range(0, len(wanted), _CHUNK):  # bounded IN lists (exports are long)
        guests = conn.execute(
            select(stay_guests).where(stay_guests.c.stay_id.in_(wanted[start:start + _CHUNK]))
            .order_by(stay_guests.c.stay_id, stay_guests.c.checked_in_at,
                      stay_guests.c.guest_id))
        for guest in guests:
            by_stay[guest.stay_id].append(shown_guest(guest._mapping))
    codes = sorted({r["site_code"] for r in rows}) if site_names else []
    names = dict(conn.execute(select(sites.c.code, sites.c.name).where(sites.c.code.in_(codes)))
                 .all()) if codes else {}
    for row in rows:
        row["guests"] = sorted(by_stay[row["stay_id"]], key=lambda g: g["role"] != "main")
        if site_names:
            row["site_name"] = names.get(row["site_code"])  # shown beside the code


def shown_guest(row: Mapping[str, Any]) -> dict[str, Any]:
    """A guest row as shown: the whole name, also when it is longer than the search key."""
    guest = dict(row)
    full_name = guest.pop("full_name", None)
    if full_name:
        guest["name"] = full_name
    return guest


def scope_ok(conn: Connection, who: Principal, site_code: str) -> bool:
    """May this user see a stay at this site (district restriction)?"""
    if who.district is None:
        return True
    return conn.execute(select(site_districts.c.site_code).where(and_(
        site_districts.c.site_code == site_code,
        site_districts.c.district == who.district))).first() is not None
