"""A small signed HTTP client for wire protocol v1 (requests, no retries of its own).

One call = one exchange (plus at most one re-signed attempt after a `clock_skew` refusal, which
is a correction, not a retry). Retrying belongs to the caller's single retry layer; urllib3's
retries are switched off, and every failure is mapped to `sync.errors` so the caller can tell
"never reached the server" (NotDeliveredError) from "may have been stored"
(MaybeDeliveredError) and read `retry_after` in seconds.

Clock: every answer carries X-Anju-Server-Time; the client keeps `offset` = server time minus
local wall time (measured at the midpoint of the exchange, on the monotonic clock) and signs
with the corrected time. The sender clock sent in bodies stays raw: the server measures the
device's real offset from it.

    with SyncClient("https://central.example", credentials) as client:
        answer = client.send_events(events)       # BatchAnswer, results[i] answers events[i]
"""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from sync import errors, signing
from sync.body import encode_batch, encode_body
from sync.fields import format_utc
from sync.handover import DECOMMISSION_PATH, HANDOVER_PATH, Part
from sync.messages import (
    DayReport,
    Enrolment,
    EnrolRequest,
    ErrorBody,
    Heartbeat,
    HeartbeatAnswer,
    ReaderReport,
    ServerTime,
)
from sync.protocol import Batch, BatchAnswer, SenderClock, WireEvent
from sync.update_messages import UpdateReport

log = logging.getLogger(__name__)

EVENTS_PATH = "/api/v1/events"
HEARTBEAT_PATH = "/api/v1/heartbeat"
ENROLL_PATH = "/api/v1/enroll"
TIME_PATH = "/api/v1/time"
MAX_RETRY_AFTER_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Credentials:
    device_id: str
    site_code: str
    secret: str  # never log it

    def __repr__(self) -> str:
        return f"Credentials(device_id={self.device_id!r}, site_code={self.site_code!r})"


class SyncClient:
    """Signed requests to one central server; thread-compatible, not thread-safe."""

    def __init__(
        self, base_url: str, credentials: Credentials | None = None, *,
        timeout: tuple[float, float] = (5.0, 30.0),
        sender_clock: Callable[[], SenderClock] | None = None,
        wall: Callable[[], float] = time.time, monotonic: Callable[[], float] = time.monotonic,
        user_agent: str = "anju-sync/1", ca_file: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.offset = 0.0  # seconds: server clock minus local wall clock
        self.skew_corrections = 0
        self._wall = wall
        self._monotonic = monotonic
        self._sender_clock = sender_clock or self._system_clock
        self._session = requests.Session()
        adapter = HTTPAdapter(max_retries=0, pool_connections=1, pool_maxsize=2)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = user_agent
        # A police intranet signs its server with its own CA: trust that bundle, not the
        # system's, when one is configured (sync.ca_file). Passed with each request, because
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`.
        self._verify: str | bool = ca_file or True

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def server_now(self) -> float:
        """The server's clock as this client estimates it (Unix seconds)."""
        return self._wall() + self.offset

    # -- the four calls of protocol v1 -------------------------------------------------------

    def server_time(self) -> ServerTime:
        return ServerTime.from_json(self._exchange("GET", TIME_PATH, b"", {}, signed=False))

    def enroll(self, token: str, installation_id: str, software_version: str) -> Enrolment:
        """Trade a one-time token for credentials (also sets `self.credentials`)."""
        body = json.dumps(EnrolRequest(token, installation_id, software_version).to_json())
        doc = self._exchange("POST", ENROLL_PATH, body.encode(), _JSON, signed=False)
        enrolment = Enrolment.from_json(doc)
        self.credentials = Credentials(enrolment.device_id, enrolment.site_code,
                                       enrolment.secret)
        return enrolment

    def send_events(self, events: Sequence[WireEvent], *, encoded: bytes | None = None
                    ) -> BatchAnswer:
        """Send one batch (see protocol.split_batches for sizing); one result per event.
        `encoded`: the batch's body made already by `encode_batch` (with the sender's clocks
        read then), as a load generator makes its bodies before its clock starts; each attempt
        is still signed anew."""
        creds = self._require_credentials()

        def body() -> bytes:
            batch = Batch(creds.device_id, creds.site_code, self._sender_clock(), tuple(events))
            return encode_batch(batch)

        doc = self._exchange("POST", EVENTS_PATH, encoded or body, _GZIP_JSON)
        return BatchAnswer.from_json(doc, sent=events)

    def hand_over(self, part: Part) -> BatchAnswer:
        """Deliver one part of another (replaced) device's hand-over file, as this device."""
        self._require_credentials()

        def body() -> bytes:
            return encode_body({"clock": self._sender_clock().to_json(),
                                "part": part.to_json()})

        doc = self._exchange("POST", HANDOVER_PATH, body, _GZIP_JSON)
        answer = BatchAnswer.from_json(doc)
        if [r.event_id for r in answer.results] != [e.get("event_id") for e in part.events]:
            raise errors.ProtocolError("the answer's results do not match the part's events",
                                       code="answer_mismatch", field="results")
        return answer

    def decommission(self) -> str:
        """Revoke this device at the server (`anju wipe`); returns the revocation time."""
        self._require_credentials()

        def body() -> bytes:
            return encode_body({"clock": self._sender_clock().to_json()})

        return str(self._exchange("POST", DECOMMISSION_PATH, body, _GZIP_JSON)["revoked_at"])

    def heartbeat(
        self, *, software_version: str, backlog: int, oldest_queued_age_s: float | None,
        reader_status: str, disk_free_bytes: int, last_error: str | None = None,
        rejected: int = 0, day_reports: Sequence[DayReport] = (),
        reader: ReaderReport | None = None, sync_state: str | None = None,
        sync_state_age_s: float | None = None, disk_min_free_bytes: int | None = None,
        doctor: tuple[str, float] | None = None,
        update: UpdateReport | None = None,
    ) -> HeartbeatAnswer:
        """`reader`, when given, says more than `reader_status` (its status is sent instead)."""
        creds = self._require_credentials()

        def body() -> bytes:
            more = reader or ReaderReport(reader_status)
            report = Heartbeat(
                creds.device_id, creds.site_code, self._sender_clock(), software_version,
                backlog, oldest_queued_age_s, more.status, disk_free_bytes, last_error,
                rejected, tuple(day_reports), more.detail, more.state_age_s, more.seen_age_s,
                sync_state, sync_state_age_s, disk_min_free_bytes,
                doctor[0] if doctor else None, doctor[1] if doctor else None, update)
            return encode_body(report.to_json())

        return HeartbeatAnswer.from_json(
            self._exchange("POST", HEARTBEAT_PATH, body, _GZIP_JSON))

    # -- one exchange ------------------------------------------------------------------------

    def _require_credentials(self) -> Credentials:
        if self.credentials is None:
            raise errors.ProtocolError("not enrolled: no device credentials", code="not_enrolled")
        return self.credentials

    def _system_clock(self) -> SenderClock:
        system = SenderClock.system()
        wall = format_utc(datetime.fromtimestamp(self._wall(), UTC))
        return SenderClock(wall, system.synchronised, system.monotonic_ns, system.boot_id)

    def _exchange(self, method: str, path: str, body: bytes | Callable[[], bytes],
                  headers: dict[str, str], *, signed: bool = True) -> Any:
        try:
            return self._attempt(method, path, body, headers, signed)
        except errors.ClockSkewError as err:
            # The server said its time: correct the offset and sign once more.
            self.offset = err.server_time - self._wall()
            self.skew_corrections += 1
            log.info("device clock off by %.0f s: corrected, request re-signed", self.offset)
            return self._attempt(method, path, body, headers, signed)

    def _attempt(self, method: str, path: str, body: bytes | Callable[[], bytes],
                 headers: dict[str, str], signed: bool) -> Any:
        data = body() if callable(body) else body
        url = self.base_url + path
        all_headers = dict(headers)
        if signed:
            creds = self._require_credentials()
            all_headers.update(signing.sign_headers(
                creds.device_id, creds.secret, method, urlsplit(url).path, data,
                timestamp=int(self.server_now())))
        sent_wall, sent_mono = self._wall(), self._monotonic()
        try:
            response = self._session.request(method, url, data=data or None,
                                             headers=all_headers, timeout=self.timeout,
                                             verify=self._verify)
        except requests.RequestException as err:
            raise _map_exception(err, method, url) from err
        try:
            outcome = self._outcome(response, method, url, path, sent_wall, sent_mono)
        finally:
            response.close()  # the connection goes back to the pool whatever happened
        # The error is raised here, with no frame holding the response: a caller keeping the
        # exception must not keep the socket open with it.
        del response
        if isinstance(outcome, errors.RequestError):
            raise outcome
        return outcome

    def _outcome(self, response: requests.Response, method: str, url: str, path: str,
                 sent_wall: float, sent_mono: float) -> Any:
        """The answer's JSON, or the RequestError to raise (returned, not raised)."""
        self._learn_offset(response, sent_wall, sent_mono)
        if response.status_code // 100 != 2:
            return self._map_status(response, method, url, path)
        try:
            return response.json()
        except ValueError:
            return errors.ConnectionLostError(
                f"{method} {url}: answer {response.status_code} is not JSON "
                f"({len(response.content)} bytes)", status=response.status_code)

    def _learn_offset(self, response: requests.Response, sent_wall: float,
                      sent_mono: float) -> None:
        try:
            server = float(response.headers[signing.SERVER_TIME_HEADER])
        except (KeyError, ValueError):
            return
        local_midpoint = sent_wall + (self._monotonic() - sent_mono) / 2
        self.offset = server - local_midpoint

    def _map_status(self, response: requests.Response, method: str, url: str, path: str
                    ) -> errors.RequestError:
        status = response.status_code
        try:
            body = ErrorBody.from_json(response.json())
        except (ValueError, errors.ProtocolError):
            body = ErrorBody(f"http_{status}", response.reason or "no error body")
        kwargs: dict[str, Any] = {
            "status": status, "code": body.code, "detail": body.detail,
            "retry_after": parse_retry_after(response.headers.get("Retry-After"),
                                             response.headers.get("Date"), self.server_now()),
        }
        message = f"{method} {url}: {status} {body.code}: {body.message}"
        if status == 401 and body.code == "clock_skew":
            server_time = body.detail.get("server_timestamp")
            if isinstance(server_time, int | float):
                return errors.ClockSkewError(message, server_time=float(server_time), **kwargs)
        cls: type[errors.RequestError]
        if path == ENROLL_PATH and status in (401, 409, 410):
            cls = errors.EnrolmentRefusedError
        else:
            cls = _STATUS_ERRORS.get(status) or (
                errors.ServerFailureError if status >= 500 else errors.BadRequestError)
        return cls(message, **kwargs)


_JSON = {"Content-Type": "application/json"}
_GZIP_JSON = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
_STATUS_ERRORS: dict[int, type[errors.RequestError]] = {
    401: errors.AuthenticationError, 403: errors.ForbiddenError, 408: errors.SlowUploadError,
    413: errors.TooLargeError,
    429: errors.ServerBusyError, 503: errors.ServerBusyError,
}


def _map_exception(err: requests.RequestException, method: str, url: str
                   ) -> errors.RequestError:
    where = f"{method} {url}"
    if isinstance(err, requests.ConnectTimeout):
        return errors.ConnectError(f"{where}: connect timeout")
    if isinstance(err, requests.ReadTimeout):
        return errors.ReadTimeoutError(f"{where}: no answer in time (may have been stored)")
    if isinstance(err, requests.exceptions.SSLError):
        return errors.TLSError(f"{where}: TLS failed: {err}")
    if isinstance(err, requests.ConnectionError):
        reason = getattr(err.args[0], "reason", None) if err.args else None
        if isinstance(reason, NewConnectionError | ConnectTimeoutError):
            return errors.ConnectError(f"{where}: cannot connect: {reason}")
        return errors.ConnectionLostError(f"{where}: connection lost mid-exchange: {err}")
    return errors.ConnectionLostError(f"{where}: {type(err).__name__}: {err}")


def parse_retry_after(value: str | None, date_header: str | None, now: float) -> float | None:
    """Retry-After as seconds (RFC 9110 §10.2.3). The HTTP-date form is measured against the
    answer's own Date header, never the device clock, which may be wrong; `now` (the server
    time as estimated from the offset) is used only when Date is missing."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text).timestamp()
            base = email.utils.parsedate_to_datetime(date_header).timestamp() if (
                date_header) else now
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        seconds = when - base
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)
