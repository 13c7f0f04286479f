"""The client's error mapping against real sockets: refused, silent, reset and scripted servers.

Each failure must land on the right side of the line the uploader cares about: "never reached
the server" (NotDeliveredError) or "may have been stored" (MaybeDeliveredError), with
Retry-After in seconds measured against the server's Date header, not the device clock.
"""

from __future__ import annotations

import email.utils
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from sync import errors
from sync.client import Credentials, SyncClient, _map_exception, parse_retry_after
from tests.sync.wire_helpers import EventChain

Action = Callable[[socket.socket, threading.Event], None]
CREDS = Credentials("dev-1", "4401040001", "A" * 43)


class ScriptedServer:
    """Answers the n-th connection's request with the n-th action, then closes it."""

    def __init__(self, actions: list[Action]) -> None:
        self.actions = actions
        self.release = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.requests: list[bytes] = []
        self.thread = threading.Thread(target=self._run, name="scripted-server")
        self.thread.start()

    def _run(self) -> None:
        for action in self.actions:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                self.requests.append(_read_request(conn))
                action(conn, self.release)

    def close(self) -> None:
        self.release.set()
        self.listener.close()
        self.thread.join(5)


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += conn.recv(65536)
    return head


def answer(status: int, body: bytes | dict[str, object], **headers: str) -> Action:
    payload = json.dumps(body).encode() if isinstance(body, dict) else body
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(payload)}", "Connection: close",
             "Content-Type: application/json", *(f"{k.replace('_', '-')}: {v}"
                                                 for k, v in headers.items())]
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload

    def act(conn: socket.socket, _release: threading.Event) -> None:
        conn.sendall(raw)
    return act


def silence(_conn: socket.socket, release: threading.Event) -> None:
    release.wait(5)


def reset(prefix: bytes) -> Action:
    def act(conn: socket.socket, _release: threading.Event) -> None:
        conn.sendall(prefix)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return act  # closing with linger 0 sends RST


@pytest.fixture
def scripted() -> Iterator[Callable[..., tuple[ScriptedServer, SyncClient]]]:
    made: list[tuple[ScriptedServer, SyncClient]] = []

    def make(*actions: Action, **client_args: object) -> tuple[ScriptedServer, SyncClient]:
        server = ScriptedServer(list(actions))
        client = SyncClient(server.url, CREDS, timeout=(1.0, 0.5), **client_args)  # type: ignore[arg-type]
        made.append((server, client))
        return server, client

    yield make
    for server, client in made:
        client.close()
        server.close()


def test_connection_refused_never_reached_the_server() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with SyncClient(f"http://127.0.0.1:{port}", CREDS) as client, \
            pytest.raises(errors.ConnectError) as failed:
        client.server_time()
    assert isinstance(failed.value, errors.NotDeliveredError) and not failed.value.maybe_delivered


def test_silence_is_a_read_timeout_that_may_have_been_stored(scripted: Callable[..., tuple[
        ScriptedServer, SyncClient]]) -> None:
    _server, client = scripted(silence)
    with pytest.raises(errors.ReadTimeoutError) as failed:
        client.send_events(EventChain("dev-1", "4401040001").stays(1))
    assert failed.value.maybe_delivered


@pytest.mark.parametrize("prefix", [b"", b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"pr"])
def test_reset_mid_exchange_may_have_been_stored(scripted: Callable[..., tuple[
        ScriptedServer, SyncClient]], prefix: bytes) -> None:
    _server, client = scripted(reset(prefix))
    with pytest.raises(errors.ConnectionLostError) as failed:
        client.send_events(EventChain("dev-1", "4401040001").stays(1))
    assert failed.value.maybe_delivered


def test_status_codes_map_to_the_tree(scripted: Callable[..., tuple[ScriptedServer,
                                                                    SyncClient]]) -> None:
    error = {"error": {"code": "overloaded", "message": "busy"}}
    _server, client = scripted(
        answer(500, {"error": {"code": "internal", "message": "boom"}}),
        answer(502, b"<html>bad gateway</html>"),
        answer(429, error, Retry_After="7"),
        answer(200, b"not json"),
        answer(404, b"nope"),
        answer(408, {"error": {"code": "body_timeout", "message": "slow"}}),
    )
    expected = [(errors.ServerFailureError, "internal", True, None),
                (errors.ServerFailureError, "http_502", True, None),
                (errors.ServerBusyError, "overloaded", False, 7.0),
                (errors.ConnectionLostError, None, True, None),
                (errors.BadRequestError, "http_404", False, None),
                (errors.SlowUploadError, "body_timeout", False, None)]
    for cls, code, maybe, retry_after in expected:
        with pytest.raises(errors.RequestError) as failed:
            client.server_time()
        assert type(failed.value) is cls, failed.value
        assert (failed.value.code, failed.value.maybe_delivered, failed.value.retry_after) == (
            code, maybe, retry_after)


def test_retry_after_date_is_read_against_the_servers_date(scripted: Callable[..., tuple[
        ScriptedServer, SyncClient]]) -> None:
    server_now = time.time()
    date = email.utils.formatdate(server_now, usegmt=True)
    later = email.utils.formatdate(server_now + 120, usegmt=True)
    # The device clock is a year behind: its own idea of "now" must not matter.
    _server, client = scripted(answer(503, {"error": {"code": "overloaded", "message": "x"}},
                                      Retry_After=later, Date=date),
                               wall=lambda: time.time() - 365 * 86400)
    with pytest.raises(errors.ServerBusyError) as busy:
        client.server_time()
    assert busy.value.retry_after == pytest.approx(120, abs=1)


def test_clock_skew_is_corrected_once_then_raised(scripted: Callable[..., tuple[
        ScriptedServer, SyncClient]]) -> None:
    skew = {"error": {"code": "clock_skew", "message": "off",
                      "server_timestamp": time.time() + 1000}}
    server, client = scripted(answer(401, skew), answer(401, skew))
    with pytest.raises(errors.ClockSkewError):
        client.send_events(EventChain("dev-1", "4401040001").stays(1))
    assert client.skew_corrections == 1 and client.offset == pytest.approx(1000, abs=5)
    stamps = [int(next(line.split(b": ")[1] for line in head.split(b"\r\n")
                       if line.startswith(b"X-Anju-Timestamp"))) for head in server.requests]
    assert stamps[1] - stamps[0] == pytest.approx(1000, abs=5)  # re-signed with the offset


def test_connect_timeout_and_other_failures_map_without_a_server() -> None:
    assert isinstance(_map_exception(requests.ConnectTimeout("x"), "GET", "u"),
                      errors.ConnectError)
    assert isinstance(_map_exception(requests.exceptions.SSLError("x"), "GET", "u"),
                      errors.ConnectError)
    assert isinstance(_map_exception(requests.exceptions.ChunkedEncodingError("x"), "GET", "u"),
                      errors.ConnectionLostError)


@pytest.mark.parametrize(("value", "date", "now", "expected"), [
    ("120", None, 0.0, 120.0),
    ("0", None, 0.0, 0.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 21 Oct 2015 07:27:00 GMT", 0.0, 60.0),
    ("Wed, 21 Oct 2015 07:28:00 GMT", None, 1445412420.0, 60.0),  # no Date: estimated now
    ("Wed, 21 Oct 2015 07:26:00 GMT", "Wed, 21 Oct 2015 07:27:00 GMT", 0.0, 0.0),  # past
    ("99999999", None, 0.0, 86400.0),  # capped at a day
    ("soon", None, 0.0, None), ("", None, 0.0, None), (None, None, 0.0, None),
    ("nan", None, 0.0, None),
])
def test_parse_retry_after(value: str | None, date: str | None, now: float,
                           expected: float | None) -> None:
    assert parse_retry_after(value, date, now) == expected
