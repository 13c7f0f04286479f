"""What the pages and the API call: each act checks the role, runs bounded, and is audited.

The audit row is written after the query and before anything is answered, in its own
transaction: if it cannot be written the caller gets an error and no personal data. A refused
or failed act writes nothing (nothing was seen).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sqlalchemy import Engine

from central.accounts import Principal
from central.errors import NotFoundError
from central.photos import PhotoDecoding
from central.police import audit, costay, export, freshness, photo, stay
from central.police.search import SearchPage, SearchQuery, search
from wlt.errors import PhotoDecoderError

DEFAULT_TIMEOUT_S = 5.0


def run_search(engine: Engine, who: Principal, params: Mapping[str, Any], *,
               action: str = "search", timeout_s: float = DEFAULT_TIMEOUT_S,
               read_engine: Engine | None = None, stale_after_s: float = 5.0
               ) -> tuple[SearchQuery, SearchPage]:
    """`read_engine`: a standby the search runs on (the page says how fresh its data is);
    the audit row is written on `engine`, the primary, all the same."""
    who.require("search")
    reason = audit.require_reason(params.get("reason"))
    query = SearchQuery.from_params(params)
    with (read_engine or engine).connect() as conn, conn.begin():
        page = search(conn, query, who, timeout_s)
        if read_engine is not None:
            page = replace(page, freshness=freshness.read(conn, stale_after_s))
    audit.append(engine, who, action, reason, query.describe(), len(page.stays))
    return query, page


def view_stay(engine: Engine, who: Principal, stay_id: str, reason: str | None,
              timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    who.require("search")
    reason = audit.require_reason(reason)
    with engine.connect() as conn, conn.begin():
        found = stay.load(conn, stay_id, who)
        found["photos"] = photo.card_photos(conn, stay_id)  # guest_id -> WLT, decoded by the page
    audit.append(engine, who, "view", reason, {"stay_id": stay_id}, 1)
    return found


def view_photo(engine: Engine, who: Principal, stay_id: str, guest_id: str, reason: str | None,
               decoding: PhotoDecoding) -> bytes:
    """One guest's card photo as PNG, audited as its own act (`photo`) once it was decoded."""
    who.require("search")
    reason = audit.require_reason(reason)
    if not decoding.configured:
        raise NotFoundError("no photo decoder is configured", code="photo_not_configured")
    with engine.connect() as conn, conn.begin():
        wlt = photo.card_photo(conn, stay_id, guest_id, who)
    try:
        png = decoding.png(wlt)
    except PhotoDecoderError as err:
        raise NotFoundError("the photo cannot be decoded", code="photo_undecodable") from err
    audit.append(engine, who, "photo", reason, {"stay_id": stay_id, "guest_id": guest_id}, 1)
    return png


def co_stay(engine: Engine, who: Principal, stay_id: str, guest_id: str, reason: str | None,
            timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    who.require("search")
    reason = audit.require_reason(reason)
    with engine.connect() as conn, conn.begin():
        result = costay.co_stays(conn, stay_id, guest_id, who, timeout_s)
    audit.append(engine, who, "costay", reason, {"stay_id": stay_id, "guest_id": guest_id},
                 len(result["others"]))
    return result


def export_csv(engine: Engine, who: Principal, params: Mapping[str, Any],
               timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    who.require("search")
    reason = audit.require_reason(params.get("reason"))
    query = SearchQuery.from_params(params)
    with engine.connect() as conn, conn.begin():
        found = export.collect(conn, query, who, timeout_s)
    described = {k: v for k, v in query.describe().items() if k not in ("page", "per_page")}
    audit.append(engine, who, "export", reason, described, len(found))
    return export.to_csv(found)
