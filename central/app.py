"""The central server's HTTP face: `create_app(settings)` builds the FastAPI app.

    GET  /api/v1/time        server clock (unsigned)
    POST /api/v1/enroll      one-time token -> device id + secret (unsigned)
    POST /api/v1/events      signed, gzip batch -> one answer per event (central/devices/ingest.py)
    POST /api/v1/heartbeat   signed device health and nil reports (central/devices/heartbeat.py)
    POST /api/v1/handover    signed by a replacement: a part of the old device's events,
                             signed by the old device (central/devices/handover.py)
    POST /api/v1/decommission  signed: the device revokes itself (`anju wipe`)
    GET  /openapi.json       this API as OpenAPI 3.1
    GET  /healthz            whether the database answers, bounded   (central/serving/health.py)
    GET  /api/v1/search      police search, bearer API token, audited      (central/web/api.py)
    GET  /api/v1/feed        change feed for police systems, feed token   (central/web/feed_api.py)
    GET  /login, /search, /stay/..., /fleet, /audit ...   police pages     (central/web/pages.py)

A signed request is authenticated from its headers first (device, signature over the announced body
hash, clock, nonce: central/devices/authentication.py), so a stranger is answered 401 before a byte
of its body is read; only then is the body read, bounded in size (413 beyond the limit, before
anything is parsed) and in time (408 past `body_timeout_s`), and checked against the signed hash. A
worker thread inflates, parses and stores it (SQLAlchemy is blocking). Every error, ours or the
framework's, is answered in the one shape `{"error": {"code", "message", ...}}`; the load shedder
and the body deadline sit in front of everything (central/serving/load_shedding.py). A database that
does not answer in time (central/db/pgbounds.py) is 503 database_unavailable + Retry-After.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from central import clock
from central.db.engine import is_sqlite, make_engine
from central.db.failures import is_unavailable, unavailable
from central.devices import enrolment, handover, heartbeat, ingest
from central.devices.authentication import Authenticator, Device
from central.errors import AuthError, BadRequestError, CentralError, StorageError, TooLargeError
from central.migrate import migrate
from central.serving import health, load_shedding, openapi
from central.serving.body_limit import read_limited
from central.serving.input_guard import InputGuard
from central.serving.load_shedding import LoadShedder
from central.serving.process_metrics import CountAnswers, ProcessStats
from central.settings import Settings
from central.web import api as web_api
from central.web import feed_api
from central.web import pages as web_pages
from sync.body import decode_body
from sync.errors import ProtocolError
from sync.fields import format_utc
from sync.messages import EnrolRequest, Heartbeat, ServerTime
from sync.protocol import BatchEnvelope

log = logging.getLogger(__name__)
T = TypeVar("T")
SMALL_BODY_BYTES = 64 * 1024  # enrolment and heartbeat bodies
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 408: "body_timeout"}


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    engine = make_engine(settings.db_url, pool_size=settings.db_pool_size,
                         bounds=settings.db_bounds())
    if settings.migrate:
        before, after = migrate(engine)
        if before != after:
            log.info("central database migrated from %s to %s", before, after)
    auth = Authenticator(engine, settings)
    limits = settings.limits

    watchdog = None
    if not is_sqlite(engine):  # imported here: psycopg is not loaded on SQLite (~0.2 s a start)
        from central.db.watchdog import Watchdog

        watchdog = Watchdog(engine, settings.db_bounds())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if watchdog is not None:
            watchdog.start()
        yield
        if watchdog is not None:
            watchdog.stop()
        engine.dispose()
        if read_engine is not None:
            read_engine.dispose()

    app = FastAPI(title="Anju central", version="1", lifespan=lifespan, docs_url=None,
                  redoc_url=None, description="Wire protocol v1: see docs/protocol.md")
    app.state.settings, app.state.engine = settings, engine
    app.state.stats = ProcessStats(watchdog)
    # Police searches on a standby when one is named; audit rows still on the primary.
    read_engine = make_engine(settings.read_db_url, pool_size=settings.db_pool_size,
                              bounds=settings.db_bounds()) if settings.read_db_url else None
    app.state.read_engine = read_engine

    def parsed(raw: bytes, headers: Mapping[str, str], max_decoded: int,
               parse: Callable[[Any], T]) -> T:
        try:
            return parse(decode_body(raw, headers.get("content-encoding"), max_decoded))
        except ProtocolError as err:
            if err.code in ("body_too_large", "too_many_events"):
                raise TooLargeError(err.message, code=err.code, **limits.to_json()) from err
            raise BadRequestError(err.message, code=err.code, field=err.field) from err

    async def signed(request: Request, limit: int) -> tuple[Device, bytes, datetime]:
        """The authenticated device and the body it signed (headers first, then the body)."""
        received = clock.utc_now()
        method, path, headers = request.method, request.url.path, request.headers
        if auth.legacy_form(headers):  # an older terminal: the body first, counted once in
            raw = await read_body(request, limit, settings)
            device = await run_in_threadpool(auth.authenticate, method, path, headers, raw,
                                             received.timestamp())
            return device, raw, received
        device, claim = await run_in_threadpool(auth.authenticate_headers, method, path,
                                                headers, received.timestamp())
        load_shedding.admit(request.scope)  # authenticated: counted from here, body and all
        raw = await read_body(request, limit, settings)
        if not claim.body_matches(raw):
            log.warning("body hash mismatch from device %s on %s %s", device.device_id, method,
                        path)
            raise AuthError("the body does not match its signed SHA-256 "
                            "(X-Anju-Body-SHA256)", code="body_hash_mismatch")
        return device, raw, received

    @app.get("/api/v1/time", responses=openapi.answers("ServerTime"))
    async def get_time() -> JSONResponse:
        now = clock.utc_now()
        return JSONResponse(ServerTime(format_utc(now), now.timestamp()).to_json())

    @app.post("/api/v1/enroll", openapi_extra=openapi.body("EnrolRequest", gzip=False),
              responses=openapi.answers("Enrolment", 400, 401, 408, 409, 410, 413))
    async def post_enroll(request: Request) -> JSONResponse:
        raw = await read_body(request, SMALL_BODY_BYTES, settings)

        def work() -> dict[str, Any]:
            message = parsed(raw, request.headers, SMALL_BODY_BYTES, EnrolRequest.from_json)
            return enrolment.enrol(engine, message, limits).to_json()

        return JSONResponse(await run_in_threadpool(work))

    @app.post("/api/v1/events", openapi_extra=openapi.body("Batch", gzip=True),
              responses=openapi.answers("BatchAnswer", 400, 401, 403, 408, 413))
    async def post_events(request: Request) -> JSONResponse:
        device, raw, received = await signed(request, limits.max_body_bytes)

        def work() -> dict[str, Any]:
            batch = parsed(raw, request.headers, limits.max_decoded_bytes,
                           lambda doc: BatchEnvelope.from_json(doc, limits))
            return ingest.ingest(engine, device, batch, received).to_json()

        return JSONResponse(await run_in_threadpool(work))

    @app.post("/api/v1/heartbeat", openapi_extra=openapi.body("Heartbeat", gzip=True),
              responses=openapi.answers("HeartbeatAnswer", 400, 401, 403, 408, 413))
    async def post_heartbeat(request: Request) -> JSONResponse:
        device, raw, received = await signed(request, SMALL_BODY_BYTES)

        def work() -> dict[str, Any]:
            beat = parsed(raw, request.headers, SMALL_BODY_BYTES, Heartbeat.from_json)
            return heartbeat.record(engine, device, beat, received, settings).to_json()

        return JSONResponse(await run_in_threadpool(work))

    @app.post("/api/v1/handover", openapi_extra=openapi.body("Handover", gzip=True),
              responses=openapi.answers("BatchAnswer", 400, 401, 403, 404, 408, 409, 413))
    async def post_handover(request: Request) -> JSONResponse:
        device, raw, received = await signed(request, limits.max_body_bytes)

        def work() -> dict[str, Any]:
            doc = parsed(raw, request.headers, limits.max_decoded_bytes, lambda d: d)
            return handover.hand_over(engine, device, doc, received, limits).to_json()

        return JSONResponse(await run_in_threadpool(work))

    @app.post("/api/v1/decommission", openapi_extra=openapi.body("Decommission", gzip=True),
              responses=openapi.answers("Decommissioned", 400, 401, 403, 408, 413))
    async def post_decommission(request: Request) -> JSONResponse:
        device, _raw, received = await signed(request, SMALL_BODY_BYTES)
        now = format_utc(received)
        await run_in_threadpool(handover.revoke, engine, device.device_id, now)
        return JSONResponse({"device_id": device.device_id, "revoked_at": now})

    web_api.install(app, engine, settings)
    feed_api.install(app, engine)
    web_pages.install(app, engine, settings)
    health.install(app, engine, settings)
    _install_error_handlers(app, settings)
    openapi.install(app)
    app.add_middleware(InputGuard)  # inside the shedder: its 400s are stamped like the rest
    app.add_middleware(LoadShedder, limit=settings.max_in_flight,
                       retry_after_s=settings.retry_after_s,
                       body_timeout_s=settings.body_timeout_s)
    app.add_middleware(CountAnswers, stats=app.state.stats)  # outermost: shed answers count
    return app


async def read_body(request: Request, limit: int, settings: Settings) -> bytes:
    """The raw body, refusing (413) as soon as it is known to exceed `limit`."""
    too_large = TooLargeError(f"request body larger than {limit} bytes", code="body_too_large",
                              **{**settings.limits.to_json(), "max_body_bytes": limit})
    return await read_limited(request, limit, too_large)


def _install_error_handlers(app: FastAPI, settings: Settings) -> None:
    def answer(err: CentralError, headers: Mapping[str, str] | None = None) -> JSONResponse:
        extra = dict(headers or {})
        if "retry_after_s" in err.detail:
            extra["Retry-After"] = str(err.detail["retry_after_s"])
        return JSONResponse(err.body(), status_code=err.status, headers=extra or None)

    @app.exception_handler(CentralError)
    async def central_error(_request: Request, err: CentralError) -> JSONResponse:
        return answer(err)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, err: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(err.status_code, f"http_{err.status_code}")
        return answer(CentralError(str(err.detail), code=code, status=err.status_code),
                      err.headers)  # e.g. Allow on 405

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, err: RequestValidationError) -> JSONResponse:
        return answer(BadRequestError(f"invalid request: {err.errors()[:3]}",
                                      code="invalid_field"))

    @app.exception_handler(ClientDisconnect)
    async def disconnected(_request: Request, _err: ClientDisconnect) -> JSONResponse:
        # Nobody will read this: the client left before sending its whole body.
        return answer(BadRequestError("client disconnected mid-body", code="disconnected"))

    @app.exception_handler(SQLAlchemyError)
    async def storage_error(_request: Request, err: SQLAlchemyError) -> JSONResponse:
        if is_unavailable(err):
            typed = unavailable(err, settings.db_retry_after_s)
            _request.app.state.stats.db_unavailable += 1
            log.warning("database unavailable: %s", typed.message)
            return answer(typed)
        log.error("database error, transaction rolled back: %s", type(err).__name__)
        return answer(StorageError("database error: the transaction was rolled back, retry later"))

    @app.exception_handler(Exception)
    async def internal_error(_request: Request, err: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return answer(CentralError("internal server error"))
