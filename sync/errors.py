"""Exceptions of the sync package: the wire protocol, and one HTTP exchange with the server.

Foreign exceptions (requests, json, gzip) are mapped at the boundary in `sync/client.py` with
``raise ... from err``. The tree is split by what the caller should do next:

    SyncError                          root: catch this to catch everything below
    ├── ProtocolError                  a message breaks wire protocol v1; retrying cannot help
    │   └── InvalidEventError          one event is malformed (.code, .field): set it aside
    ├── RequestError                   one HTTP exchange failed (.maybe_delivered, .retry_after)
    │   ├── NotDeliveredError          the server certainly did not act: retry, nothing was stored
    │   │   ├── ConnectError           DNS, refused, unreachable, connect timeout
    │   │   │   └── TLSError           TLS handshake: certificate, name or CA refused
    │   │   └── ServerBusyError        429 / 503: shed before the request was read (.retry_after)
    │   ├── MaybeDeliveredError        the server may have stored it: retry (ingest is idempotent)
    │   │   ├── ReadTimeoutError       sent, no complete answer in time
    │   │   ├── ConnectionLostError    reset or closed mid-exchange, or an unreadable answer
    │   │   └── ServerFailureError     500, 502, 504 and any other 5xx (.status)
    │   └── RefusedError               4xx: the same request will be refused again (.status, .code)
    │       ├── AuthenticationError    401: bad signature, unknown device, reused nonce
    │       │   └── ClockSkewError     401 clock_skew (.server_time): correct the offset, re-sign
    │       ├── ForbiddenError         403: wrong site, device disabled
    │       ├── EnrolmentRefusedError  enrolment token unknown, used or expired (.code says which)
    │       ├── TooLargeError          413: split the batch (.max_events, .max_bytes)
    │       ├── SlowUploadError        408: the body did not arrive within the server's deadline;
    │       │                          the same size would time out again: send less at once
    │       └── BadRequestError        any other 4xx: a bug in the client
    ├── RetryBudgetExhausted           a budget ran out (.kind, .last: the final RequestError)
    └── StopRequested                  the wait was interrupted: the process is shutting down
                                       (these two: sync/retry.py, the retry loop)
"""

from __future__ import annotations

from typing import Any


class SyncError(Exception):
    """Root of the sync package's exceptions."""


class ProtocolError(SyncError):
    """A message (an event, a batch, an answer) does not follow wire protocol v1."""

    def __init__(self, message: str, *, code: str = "protocol_error", field: str | None = None
                 ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.field = field


class InvalidEventError(ProtocolError):
    """One event is malformed: the server answers `rejected` with this code and field."""


class RequestError(SyncError):
    """One HTTP exchange failed. `maybe_delivered` says whether the server may have acted."""

    maybe_delivered = True

    def __init__(
        self, message: str, *, status: int | None = None, code: str | None = None,
        retry_after: float | None = None, detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after  # seconds, already converted from the date form
        self.detail = detail or {}


class NotDeliveredError(RequestError):
    maybe_delivered = False


class ConnectError(NotDeliveredError):
    pass


class TLSError(ConnectError):
    """The TLS handshake failed: the server's certificate, its name or the CA bundle."""


class ServerBusyError(NotDeliveredError):
    pass


class MaybeDeliveredError(RequestError):
    maybe_delivered = True


class ReadTimeoutError(MaybeDeliveredError):
    pass


class ConnectionLostError(MaybeDeliveredError):
    pass


class ServerFailureError(MaybeDeliveredError):
    pass


class RefusedError(RequestError):
    """The server read the request and refused it: nothing was stored."""

    maybe_delivered = False


class AuthenticationError(RefusedError):
    pass


class ClockSkewError(AuthenticationError):
    def __init__(self, message: str, *, server_time: float, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.server_time = server_time  # Unix seconds, the server's clock


class ForbiddenError(RefusedError):
    pass


class EnrolmentRefusedError(RefusedError):
    pass


class TooLargeError(RefusedError):
    @property
    def max_events(self) -> int | None:
        return self.detail.get("max_events")

    @property
    def max_bytes(self) -> int | None:
        return self.detail.get("max_bytes")


class SlowUploadError(RefusedError):
    pass


class BadRequestError(RefusedError):
    pass
