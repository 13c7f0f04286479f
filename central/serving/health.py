"""`GET /healthz`: whether this server process and its database answer, within a bound.

    200 {"status": "ok", "database": "primary" | "standby" | "sqlite", "latency_ms": 2.1}
    503 {"error": {"code": "database_unavailable", ...}} + Retry-After

For a load balancer or a monitor: no authentication, no personal data. The bound holds even
when the database is hung (frozen with its sockets open): the answer comes after at most
HEALTH_TIMEOUT_S, while the probe's own connection gives up by itself (central/db/pgbounds.py).
"""

from __future__ import annotations

import asyncio
import time

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from central.db.failures import unavailable
from central.errors import UnavailableError
from central.settings import Settings

HEALTH_TIMEOUT_S = 3.0


def database_role(engine: Engine) -> str:
    """One round trip: "primary", "standby" (in recovery) or "sqlite"."""
    with engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            conn.execute(text("SELECT 1"))
            return "sqlite"
        return "standby" if conn.execute(text("SELECT pg_is_in_recovery()")).scalar() else "primary"


def install(app: FastAPI, engine: Engine, settings: Settings) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> JSONResponse:
        started = time.monotonic()
        try:
            role = await asyncio.wait_for(
                run_in_threadpool(database_role, engine), HEALTH_TIMEOUT_S
            )
        except TimeoutError:
            raise UnavailableError(
                f"the database did not answer within {HEALTH_TIMEOUT_S:g} s",
                retry_after_s=settings.db_retry_after_s,
            ) from None
        except SQLAlchemyError as err:
            raise unavailable(err, settings.db_retry_after_s) from err
        return JSONResponse(
            {
                "status": "ok",
                "database": role,
                "latency_ms": round(1000 * (time.monotonic() - started), 1),
            },
            headers={"Cache-Control": "no-store"},
        )
