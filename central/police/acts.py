"""What the pages and the API call: each act checks the role, runs bounded, and is audited.

The audit row is written after the query and before anything is answered, in its own
transaction: if it cannot be written the caller gets an error and no personal data. A refused
or failed act writes nothing (nothing was seen).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import replace
from typing import IO, Any

from sqlalchemy import Engine

from central.accounts import audit
from central.accounts.audit import DEFAULT_RULE, ReasonRule
from central.accounts.principals import Principal
from central.errors import BadRequestError, NotFoundError
from central.police import costay, export, exportrows, freshness, photos, stay
from central.police.photos import PhotoDecoding
from central.police.query_deadline import bounded
from central.police.search import SearchPage, SearchQuery, search
from central.police.xlsx import write_xlsx
from wlt.errors import PhotoDecoderError

DEFAULT_TIMEOUT_S = 5.0


def run_search(engine: Engine, who: Principal, params: Mapping[str, Any], *,
               action: str = "search", timeout_s: float = DEFAULT_TIMEOUT_S,
               rule: ReasonRule = DEFAULT_RULE, read_engine: Engine | None = None,
               stale_after_s: float = 5.0) -> tuple[SearchQuery, SearchPage]:
    """`read_engine`: a standby the search runs on (the page says how fresh its data is);
    the audit row is written on `engine`, the primary, all the same."""
    who.require("search")
    reason = audit.require_reason(params.get("reason"), rule)
    query = SearchQuery.from_params(params)
    with (read_engine or engine).connect() as conn, conn.begin():
        page = search(conn, query, who, timeout_s)
        if read_engine is not None:
            page = replace(page, freshness=freshness.read(conn, stale_after_s))
    audit.append(engine, who, action, reason, query.describe(), len(page.stays))
    return query, page


def view_stay(engine: Engine, who: Principal, stay_id: str, reason: str | None,
              timeout_s: float = DEFAULT_TIMEOUT_S, *, action: str = "view",
              rule: ReasonRule = DEFAULT_RULE) -> dict[str, Any]:
    who.require("search")
    reason = audit.require_reason(reason, rule)
    with engine.connect() as conn, conn.begin():
        found = stay.load(conn, stay_id, who)
        found["photos"] = photos.card_photos(conn, stay_id)  # guest_id -> WLT, decoded by the page
    audit.append(engine, who, action, reason, {"stay_id": stay_id}, 1)
    return found


def view_photo(engine: Engine, who: Principal, stay_id: str, guest_id: str, reason: str | None,
               decoding: PhotoDecoding, rule: ReasonRule = DEFAULT_RULE) -> bytes:
    """One guest's card photo as PNG, audited as its own act (`photo`) once it was decoded."""
    who.require("search")
    reason = audit.require_reason(reason, rule)
    if not decoding.configured:
        raise NotFoundError("no photo decoder is configured", code="photo_not_configured")
    with engine.connect() as conn, conn.begin():
        wlt = photos.card_photo(conn, stay_id, guest_id, who)
    try:
        png = decoding.png(wlt)
    except PhotoDecoderError as err:
        raise NotFoundError("the photo cannot be decoded", code="photo_undecodable") from err
    audit.append(engine, who, "photo", reason, {"stay_id": stay_id, "guest_id": guest_id}, 1)
    return png


def co_stay(engine: Engine, who: Principal, stay_id: str, guest_id: str, reason: str | None,
            timeout_s: float = DEFAULT_TIMEOUT_S, rule: ReasonRule = DEFAULT_RULE
            ) -> dict[str, Any]:
    who.require("search")
    reason = audit.require_reason(reason, rule)
    with engine.connect() as conn, conn.begin():
        result = costay.co_stays(conn, stay_id, guest_id, who, timeout_s)
    audit.append(engine, who, "costay", reason, {"stay_id": stay_id, "guest_id": guest_id},
                 len(result["others"]))
    return result


def export_file(engine: Engine, who: Principal, params: Mapping[str, Any],
                timeout_s: float = DEFAULT_TIMEOUT_S, rule: ReasonRule = DEFAULT_RULE, *,
                read_engine: Engine | None = None) -> tuple[IO[bytes], str, str]:
    """The search's stays as a file (`format`: xlsx, the default, or csv), written to a
    temporary file a chunk of stays at a time; returns it rewound, its media type and name.
    Audited (`export`, with the format) once written, before a byte is answered. Read on
    `read_engine` (a standby, like the search it exports) when given; audited on `engine`."""
    who.require("search")
    reason = audit.require_reason(params.get("reason"), rule)
    fmt = str(params.get("format") or "xlsx").lower()
    if fmt not in export.FORMATS:
        raise BadRequestError("format must be xlsx or csv", code="invalid_field", field="format")
    query = SearchQuery.from_params(params)
    out = tempfile.TemporaryFile()  # noqa: SIM115 -- handed to the caller, who streams and closes it
    try:
        with (read_engine or engine).connect() as conn, conn.begin():
            found = export.collect(conn, query, who, timeout_s)
            # Reading the guests and payloads is bounded like the search, per chunk of stays.
            with bounded(conn, timeout_s * 12):
                writer = write_xlsx if fmt == "xlsx" else export.write_csv
                writer(exportrows.rows(conn, found), out)
        described = {k: v for k, v in query.describe().items() if k not in ("page", "per_page")}
        audit.append(engine, who, "export", reason, {**described, "format": fmt}, len(found))
    except BaseException:
        out.close()
        raise
    out.seek(0)
    media, filename = export.FORMATS[fmt]
    return out, media, filename
