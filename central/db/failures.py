"""Which database errors mean "not answering, try again later" (503 + Retry-After, or a CLI
error saying so) rather than a fault of the request or of the code (500)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from central.errors import UnavailableError

READ_ONLY_SQLSTATE = "25006"  # connected to a standby: a write must wait for the new primary


def is_unavailable(err: SQLAlchemyError) -> bool:
    """Pool wait over, connection refused or lost, a bound hit (connect, statement, lock, the
    client's wait: central/db/pgbounds.py), SQLite busy, or a standby reached for a write."""
    if isinstance(err, PoolTimeoutError | OperationalError):
        return True
    if isinstance(err, DBAPIError):
        return (
            err.connection_invalidated or getattr(err.orig, "sqlstate", None) == READ_ONLY_SQLSTATE
        )
    return False


def unavailable(err: SQLAlchemyError, retry_after_s: int) -> UnavailableError:
    """The typed error for the boundary; names the error's class only (a driver's message may
    quote statement parameters, i.e. personal data)."""
    cause = type(getattr(err, "orig", None) or err).__name__
    return UnavailableError(
        f"the database is not answering ({cause}): retry later", retry_after_s=retry_after_s
    )
