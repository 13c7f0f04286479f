"""Exceptions of the central server. Each HTTP one renders as the one error shape
`{"error": {"code": ..., "message": ..., **detail}}` (central/app.py) with its status.
Every exception the server defines descends from CentralError (tests/test_error_roots.py);
the ones defined beside the code that raises them are named with their module.

    CentralError                 root (.status, .code, .detail)
    ├── BadRequestError      400 invalid_body, invalid_field, missing_field,
    │                            unsupported_protocol, unsupported_encoding, too_many_*
    ├── AuthError            401 missing_signature, missing_body_hash, unknown_device,
    │   │                        bad_signature, replayed_nonce, body_hash_mismatch
    │   ├── ClockSkewError   401 clock_skew: the detail carries server_time / server_timestamp
    │   └── LoginRequiredError   401 login_required: a page without a session (web/guard.py)
    ├── TokenError           401 token_unknown, 409 token_used, 410 token_expired
    ├── ForbiddenError       403 wrong_site, device_disabled
    ├── CsrfError            403 csrf: a form without the session's token (web/guard.py)
    ├── NotFoundError        404 not_found (405 method_not_allowed)
    ├── BodyTimeoutError     408 body_timeout: the body did not arrive in time (connection closed)
    ├── HandoverDoneError    409 handover_done: the hand-over was completed (devices/handover.py)
    ├── TooLargeError        413 body_too_large, too_many_events (detail: the limits)
    ├── ThrottledError       429 too_many_attempts, with Retry-After (accounts/login_throttle.py)
    ├── RateLimitedError     429 rate_limited: a feed token past its pages a minute (feed/tokens.py)
    ├── OverloadedError      503 overloaded, with Retry-After: shed before anything was stored
    ├── QueryTimeoutError    503 query_timeout: a police query past its deadline
    │                            (police/query_deadline.py)
    ├── StorageError         500 database_error: the transaction was rolled back
    ├── UnavailableError     503 database_unavailable, with Retry-After: the database did not
    │                            answer in time or cannot be reached (central/db/failures.py)
    ├── AdminError           (CLI only) unknown site, site exists, bad argument
    └── FeedPullError        (CLI only) feed_pull: the reference consumer could not pull
                                 (feed/consumer.py)

One exception is foreign by design: db/pgbounds.py's DatabaseHungError is a
psycopg.OperationalError, raised inside psycopg's own waits so that SQLAlchemy wraps it like
any lost connection; db/failures.py maps it to UnavailableError at the boundary.

Anything else escaping a request is answered 500 `internal` and logged with its traceback.
"""

from __future__ import annotations

from typing import Any


class CentralError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None,
                 **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or type(self).code
        self.status = status or type(self).status
        self.detail = detail

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.detail}}


class BadRequestError(CentralError):
    status, code = 400, "invalid_body"


class AuthError(CentralError):
    status, code = 401, "bad_signature"


class ClockSkewError(AuthError):
    code = "clock_skew"


class TokenError(CentralError):
    status, code = 401, "token_unknown"


class ForbiddenError(CentralError):
    status, code = 403, "wrong_site"


class NotFoundError(CentralError):
    status, code = 404, "not_found"


class BodyTimeoutError(CentralError):
    status, code = 408, "body_timeout"


class TooLargeError(CentralError):
    status, code = 413, "body_too_large"


class OverloadedError(CentralError):
    status, code = 503, "overloaded"


class StorageError(CentralError):
    status, code = 500, "database_error"


class UnavailableError(CentralError):
    status, code = 503, "database_unavailable"


class AdminError(CentralError):
    status, code = 400, "admin"
