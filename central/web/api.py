"""`GET /api/v1/search`: the police search for integration, with a bearer API token;
`GET /api/v1/stay/{id}?reason=`: one stay with every registered field (audited `api_view`); and
`GET /metrics` for Prometheus (central/serving/metrics.py, central/serving/process_metrics.py).

Query parameters: document, name, from, to, site, room, card_type, nationality, page,
per_page, and a required reason. The answer is JSON stays with their guests, newest first:

    {"page": 1, "has_more": false, "stays": [{"stay_id", "site_code", "room", "status",
      "checked_in_at", "checked_out_at", "voided_at", "time_corrected", "guests": [...]}]}

With `--read-db` (searches on a standby) also "freshness": {"source": "standby", "as_of",
"lag_s", "streaming", "stale"} (central/police/freshness.py).

Audited like a page search (action `api_search`). Errors use the server's one error shape:
401 missing_token / bad_token, 403 forbidden (e.g. a technician's token), 400 missing_reason.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from central.accounts import principals
from central.db.failures import is_unavailable
from central.fleet import FleetPolicy
from central.police import acts, words
from central.serving import metrics
from central.settings import Settings
from sync.fields import TEXT_PATTERN, UUID_RE

_STAY_KEYS = ("stay_id", "site_code", "device_id", "room", "status", "complete",
              "checked_in_at", "checked_out_at", "voided_at", "time_corrected")
_GUEST_KEYS = ("guest_id", "role", "name", "document_type", "document_number", "nationality",
               "checked_in_at", "checked_out_at")


_ANSWERS_STAY: dict[int | str, dict[str, Any]] = {
    200: {"description": "the stay with every registered field, findings and history"},
    **{status: {"description": "error", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}
       for status in (400, 401, 403, 404, 503)},
}
_PARAMS = {"document": "exact document number", "name": "partial name, Chinese or Latin",
           "from": "stays overlapping from this day (YYYY-MM-DD)",
           "to": "stays overlapping up to this day (YYYY-MM-DD)", "site": "site code",
           "room": "room (with site)", "card_type": "document type code",
           "nationality": "ISO 3166 alpha-3", "page": "1, 2, ...", "per_page": "1..100",
           "reason": "case number or reason, written to the audit log (required)"}
_OPENAPI = {
    "parameters": [{"name": k, "in": "query", "required": k == "reason", "description": v,
                    "schema": {"type": "string", "maxLength": 500 if k == "reason" else 64,
                               "pattern": TEXT_PATTERN}}
                   for k, v in _PARAMS.items()],
    "description": "Authenticate with `Authorization: Bearer <token>` from "
                   "`anju central user api-token NAME`.",
}
_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"description": "stays with their guests, newest first", "content": {
        "application/json": {"schema": {
            "type": "object", "required": ["page", "has_more", "stays"],
            "properties": {"page": {"type": "integer"}, "has_more": {"type": "boolean"},
                           "stays": {"type": "array", "items": {"type": "object"}}}}}}},
    **{status: {"description": "error", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for status in (400, 401, 403, 503)},
}


def install(app: FastAPI, engine: Engine, settings: Settings) -> None:
    @app.get("/api/v1/search", tags=["police"], openapi_extra=_OPENAPI, responses=_ANSWERS,
             summary="Search stays (bearer API token; audited; reason required)")
    async def api_search(request: Request) -> JSONResponse:
        params = dict(request.query_params)

        def work() -> dict[str, Any]:
            who = principals.token_principal(engine, request.headers.get("authorization"))
            _query, page = acts.run_search(engine, who, params, action="api_search",
                                              timeout_s=settings.query_timeout_s,
                                              rule=settings.reason_rule(),
                                              read_engine=app.state.read_engine,
                                              stale_after_s=settings.read_db_stale_after_s)
            answer = {"page": page.page, "has_more": page.has_more,
                      "stays": [_stay_json(s) for s in page.stays]}
            if page.freshness is not None:  # searched on a standby: how fresh
                answer["freshness"] = page.freshness.to_json()
            return answer

        return JSONResponse(await run_in_threadpool(work),
                            headers={"Cache-Control": "no-store"})

    @app.get("/api/v1/stay/{stay_id}", tags=["police"], responses=_ANSWERS_STAY,
             summary="One stay with every registered field (bearer API token; audited)")
    async def api_stay(request: Request,
                       stay_id: Annotated[str, Path(pattern=UUID_RE.pattern)]) -> JSONResponse:
        def work() -> dict[str, Any]:
            who = principals.token_principal(engine, request.headers.get("authorization"))
            found = acts.view_stay(engine, who, stay_id, request.query_params.get("reason"),
                                      settings.query_timeout_s, action="api_view",
                                      rule=settings.reason_rule())
            return stay_record_json(found)

        return JSONResponse(await run_in_threadpool(work), headers={"Cache-Control": "no-store"})

    policy = FleetPolicy(settings.silent_after_s, settings.backlog_alarm_s)
    audit_rows = metrics.AuditRows()

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> PlainTextResponse:
        # The process's own figures even when the database does not answer (a scrape that
        # fails would hide them): anju_database_up 0 then says so.
        stats = app.state.stats
        try:
            body = await run_in_threadpool(metrics.render, engine, policy, audit_rows)
        except SQLAlchemyError as err:
            if not is_unavailable(err):
                raise
            stats.db_unavailable += 1
            body = ""
        return PlainTextResponse(body + stats.render(database_up=bool(body)),
                                 media_type="text/plain; version=0.0.4")


def stay_record_json(stay: dict[str, Any]) -> dict[str, Any]:
    """The whole record: the stay, each guest's fields as sent (`fields`, codes) and in words
    (`rows`), the findings with override reasons, who registered it, and the events (payloads
    left out: a card's photo and raw text are not for this answer)."""
    events = [{k: v for k, v in e.items() if k != "data"} for e in stay["events"]]
    for event, source in zip(events, stay["events"], strict=True):
        fields = source["data"].get("guest") if event["kind"] == "add_guest" else None
        event["detail"] = dict(event["detail"], **({"guest_id": fields.get("guest_id")}
                                                   if isinstance(fields, dict) else {}))
    return {**{k: stay[k] for k in _STAY_KEYS}, "site_name": stay.get("site_name"),
            "title": stay["title"], "registered_by": stay["registered_by"],
            "findings": stay["findings"], "events": events,
            "guests": [{**{k: g[k] for k in _GUEST_KEYS}, "fields": _without_evidence(g["fields"]),
                        "rows": g["rows"]} for g in stay["guests"]]}


def _without_evidence(fields: dict[str, Any] | None) -> dict[str, Any] | None:
    """The card's verbatim evidence (photo, raw text block) stays out of the JSON answer:
    the photo has its own audited act."""
    if not fields:
        return fields
    document = {k: v for k, v in (fields.get("document") or {}).items() if k != "card"}
    return {**fields, "document": document}


def _stay_json(stay: dict[str, Any]) -> dict[str, Any]:
    """Codes as sent, and beside them their names (site, document type, nationality)."""
    return {**{k: stay[k] for k in _STAY_KEYS}, "site_name": stay.get("site_name"),
            "guests": [{**{k: g[k] for k in _GUEST_KEYS},
                        "document_type_name": words.document_type(g["document_type"]),
                        "nationality_name": words.country(g["nationality"])}
                       for g in stay["guests"]]}
