"""Before the body (issue 14, finding 5): slow senders that have proved nothing hold no slot of
the load shedder, a signed request is judged on its headers before its body is read, and a
body that does not arrive in time is answered 408 on a closed connection.

Two servers of their own per backend, on one database (authentication reads the devices and
nonces tables): `tight`, 4 requests in flight at most and bodies due within a minute, that no
test waits out (the slow senders are shown still waiting, then let go); `hasty`, bodies due
within half a second, for the 408 itself. Raw sockets on loopback, a bounded number.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from sync.client import Credentials
from sync.protocol import ACCEPTED
from tests.central.central_helpers import Admin, batch_body, fetch, signed_head
from tests.central.police_helpers import logged_in
from tests.central.serverproc import CentralServer
from tests.forkserver import ForkServer

MAX_IN_FLIGHT = 4
PATIENT_S = 60  # `tight`: longer than any test's work on a loaded machine, never waited out
HASTY_S = 0.5  # `hasty`: what the 408 tests wait, once per slow sender
ANSWER_TIMEOUT_S = 30  # a bound on failure only (a socket that never answers)


@pytest.fixture(scope="module")
def tight_server(db_url: str, tmp_path_factory: pytest.TempPathFactory,
                 fork_server: ForkServer) -> Iterator[CentralServer]:
    log = tmp_path_factory.mktemp("central-tight") / "server.log"
    with CentralServer(
        db_url,
        log,
        extra_args=(
            "--max-in-flight",
            str(MAX_IN_FLIGHT),
            "--retry-after",
            "1",
            "--body-timeout",
            str(PATIENT_S),
        ),
        forks=fork_server,
    ) as process:
        yield process


@pytest.fixture(scope="module")
def hasty_server(tight_server: CentralServer, tmp_path_factory: pytest.TempPathFactory,
                 fork_server: ForkServer) -> Iterator[CentralServer]:
    log = tmp_path_factory.mktemp("central-hasty") / "server.log"
    with CentralServer(tight_server.db_url, log, extra_args=("--body-timeout", str(HASTY_S)),
                       forks=fork_server) as process:
        yield process


@pytest.fixture
def tight(tight_server: CentralServer) -> Iterator[Admin]:
    with Admin(tight_server.db_url, tight_server.url) as admin:
        yield admin


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=ANSWER_TIMEOUT_S)


def head(path: str, length: int, content_type: str = "application/json") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode("ascii")


def answer_of(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the one answer on `sock`."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed without an answer: {data!r}"
        data += chunk
    raw_head, _, body = data.partition(b"\r\n\r\n")
    lines = raw_head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, body


def refusal(sock: socket.socket) -> tuple[int, str]:
    """An error answered before our body was all sent: its status and code, after checking
    that the server said so and closed the connection (EOF, not waiting for the rest)."""
    status, headers, body = answer_of(sock)
    assert headers.get("connection") == "close", headers
    assert sock.recv(1) == b""  # the socket's timeout fails this if the server kept reading
    return status, json.loads(body)["error"]["code"]


def nothing_received_yet(sock: socket.socket) -> bool:
    timeout = sock.gettimeout()
    sock.setblocking(False)  # a socket with a timeout would wait for data, even to peek
    try:
        sock.recv(1, socket.MSG_PEEK)  # data, or b"" at EOF: either way, something came
    except BlockingIOError:
        return True
    finally:
        sock.settimeout(timeout)
    return False


def test_slow_strangers_hold_no_slot_while_health_login_and_uploads_answer(
        tight: Admin, hasty_server: CentralServer) -> None:
    client, chain = tight.device()
    assert client.credentials is not None
    stranger = Credentials(client.credentials.device_id, "x", "A" * 43)  # a wrong secret
    with ExitStack() as stack:

        def slow(request: bytes) -> socket.socket:
            sock = stack.enter_context(connect(tight.url))
            sock.sendall(request)
            return sock

        # The attack of the report: announce 1 MB, send 10 bytes, hold the socket; and the
        # same with a signature made with the wrong secret.
        unsigned = [slow(head("/api/v1/events", 1 << 20) + b'{"protocol') for _ in range(16)]
        forged = [
            slow(signed_head(stranger, "/api/v1/heartbeat", b"y" * 60000) + b"{") for _ in range(8)
        ]
        # Bodies that have to be read to be judged (a login form, an enrolment): read, but
        # not counted while they trickle in.
        forms = [
            slow(head("/login", 10000, "application/x-www-form-urlencoded") + b"csrf=")
            for _ in range(8)
        ]
        enrols = [slow(head("/api/v1/enroll", 60000) + b'{"pro') for _ in range(8)]

        # With 40 slow sockets open and 4 slots, everyone else is served.
        for _ in range(2 * MAX_IN_FLIGHT):
            assert fetch("GET", tight.url + "/api/v1/time").status_code == 200
            assert fetch("GET", tight.url + "/login").status_code == 200
        browser, _user = logged_in(tight.url, tight.engine, "officer")
        assert browser.get("/search").status_code == 200
        answer = client.send_events([chain.check_in()])
        assert answer.results[0].status == ACCEPTED
        beat = client.heartbeat(
            software_version="1",
            backlog=0,
            oldest_queued_age_s=None,
            reader_status="connected",
            disk_free_bytes=1,
        )
        assert beat.next_heartbeat_s > 0

        # The unsigned and forged ones were refused without their body, and let go.
        for sock in unsigned:
            assert refusal(sock) == (401, "missing_signature")
        for sock in forged:
            assert refusal(sock) == (401, "bad_signature")
        # The readable ones are still waiting (they held no slot meanwhile, nor were shed).
        assert all(nothing_received_yet(s) for s in forms + enrols)
    assert len(tight.rows("events", device_id=chain.device_id)) == 1
    # Until their deadline: 408, connection closed (on `hasty`, whose deadline is short).
    with connect(hasty_server.url) as enrol, connect(hasty_server.url) as form:
        enrol.sendall(head("/api/v1/enroll", 60000) + b'{"pro')
        form.sendall(head("/login", 10000, "application/x-www-form-urlencoded") + b"csrf=")
        assert refusal(enrol) == (408, "body_timeout")
        status, headers, page = answer_of(form)  # a page: the error page, in Chinese
        assert (status, headers.get("connection")) == (408, "close")
        assert "请求超时" in page.decode("utf-8") and form.recv(1) == b""


@pytest.mark.parametrize(
    ("who", "code"),
    [
        ("wrong secret", "bad_signature"),
        ("unknown device", "unknown_device"),
        ("stale timestamp", "clock_skew"),
        ("no body hash", "missing_body_hash"),
    ],
)
def test_a_bad_signature_is_answered_though_the_body_never_comes(
    tight: Admin, who: str, code: str
) -> None:
    creds = tight.enrolled().credentials
    assert creds is not None
    body = batch_body(creds, [])
    request = {
        "wrong secret": signed_head(creds, "/api/v1/events", body, secret="A" * 43),
        "unknown device": signed_head(
            Credentials("nobody", "x", creds.secret), "/api/v1/events", body
        ),
        "stale timestamp": signed_head(creds, "/api/v1/events", body, timestamp=time.time() - 3600),
        "no body hash": _without_body_hash(signed_head(creds, "/api/v1/events", body)),
    }[who]
    with connect(tight.url) as sock:
        sock.sendall(request)  # the headers only: not one byte of the announced body
        assert refusal(sock) == (401, code)


def test_a_signed_sender_too_slow_gets_408_and_nothing_is_stored(
        tight: Admin, hasty_server: CentralServer) -> None:
    client, chain = tight.device()
    assert client.credentials is not None
    body = batch_body(client.credentials, [chain.check_in()])
    with connect(hasty_server.url) as sock:
        sock.sendall(signed_head(client.credentials, "/api/v1/events", body) + body[:10])
        assert refusal(sock) == (408, "body_timeout")
    assert tight.rows("events", device_id=chain.device_id) == []
    # The same batch, sent at speed with a fresh signature, is stored (on `tight`: half a
    # second from the headers is too short a deadline for a machine under load).
    assert client.send_events(chain.events).results[0].status == ACCEPTED


def test_a_body_that_does_not_match_its_signed_hash_is_refused(tight: Admin) -> None:
    client, chain = tight.device()
    assert client.credentials is not None
    body = batch_body(client.credentials, [chain.check_in()])
    forged = batch_body(client.credentials, [chain.check_in()])
    request = signed_head(client.credentials, "/api/v1/events", body).replace(
        f"Content-Length: {len(body)}".encode(), f"Content-Length: {len(forged)}".encode()
    )
    with connect(tight.url) as sock:
        sock.sendall(request + forged)
        status, _headers, error = answer_of(sock)
    assert (status, json.loads(error)["error"]["code"]) == (401, "body_hash_mismatch")
    assert tight.rows("events", device_id=chain.device_id) == []


def test_the_older_form_is_read_first_when_the_server_accepts_it(small: Admin) -> None:
    """`small` runs with --accept-legacy-signing, one request in flight, bodies due in 5 s."""
    client, chain = small.device()
    assert client.credentials is not None
    body = batch_body(client.credentials, [chain.check_in()])
    with connect(small.url) as sock:  # a terminal from before X-Anju-Body-SHA256
        sock.sendall(
            _without_body_hash(signed_head(client.credentials, "/api/v1/events", body)) + body
        )
        status, _headers, answer = answer_of(sock)
    assert status == 200 and json.loads(answer)["results"][0]["status"] == ACCEPTED
    with ExitStack() as stack:
        # Slow older-form senders are read before they can be judged: not counted meanwhile.
        slow = [stack.enter_context(connect(small.url)) for _ in range(4)]
        for sock in slow:
            sock.sendall(
                _without_body_hash(signed_head(client.credentials, "/api/v1/events", body))
                + body[:10]
            )
        unsigned = stack.enter_context(connect(small.url))
        unsigned.sendall(head("/api/v1/events", 1 << 20) + b"{")
        for _ in range(3):
            assert fetch("GET", small.url + "/api/v1/time").status_code == 200
        assert refusal(unsigned) == (401, "missing_signature")  # unsigned: refused at once
        assert all(nothing_received_yet(s) for s in slow)
        for sock in slow:
            assert refusal(sock) == (408, "body_timeout")
    assert len(small.rows("events", device_id=chain.device_id)) == 1


def _without_body_hash(request: bytes) -> bytes:
    return b"\r\n".join(
        line
        for line in request.split(b"\r\n")
        if not line.lower().startswith(b"x-anju-body-sha256")
    )
