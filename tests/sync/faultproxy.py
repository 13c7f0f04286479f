"""A loopback TCP proxy that misbehaves: for the uploader's fault test.

Each accepted connection gets one behaviour, first from `script` (so every fault is certain to
happen), then drawn from `weights` with a seeded random source:

    pass      forward both ways; closed by the proxy after the answer idles 0.2 s (as a server
              closing keep-alive connections does), so the client opens new connections often
    drop      close at once, before reading anything                  -> never reached
    reset     forward the request, let part of the answer through, RST -> may have been stored
    delay     wait 0.3 s, then pass
    busy503   answer 503 with Retry-After: 1 without forwarding        -> never reached
    busy429   answer 429 with Retry-After: 1
    err500    forward, swallow the real answer, answer 500             -> stored, told failed

Every thread is joined and every socket closed by `close()` (the suite checks for leaks); the
bound port stays the same for the proxy's whole life. With `idle_close_s=None` and only "pass"
and "drop" it is a link a test can cut: `weights` switched to "drop" and `sever()`.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from collections import Counter

BEHAVIOURS = ("pass", "drop", "reset", "delay", "busy503", "busy429", "err500")


def _answer(status: str, retry_after: bool) -> bytes:
    body = b'{"error": {"code": "proxy_fault", "message": "injected by the test proxy"}}'
    head = (f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n")
    if retry_after:
        head += "Retry-After: 1\r\n"
    return head.encode() + b"\r\n" + body


def _rst(sock: socket.socket) -> None:
    """Close with a TCP reset rather than a FIN."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class FaultProxy:
    def __init__(self, upstream_port: int, *, script: tuple[str, ...] = (),
                 weights: dict[str, float] | None = None, seed: int = 4,
                 idle_close_s: float | None = 0.2) -> None:
        """`idle_close_s` None: a connection lasts until one side closes it (a plain link)."""
        self.upstream = ("127.0.0.1", upstream_port)
        self.idle_close_s = idle_close_s
        self.script = list(script)
        self.weights = weights or {"pass": 5, "drop": 1, "reset": 1, "delay": 1, "busy503": 1,
                                   "busy429": 1, "err500": 1}
        self.rng = random.Random(seed)
        self.seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept_loop, name="faultproxy-accept")
        self._acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closing.set()
        self._acceptor.join(5)
        self._listener.close()
        with self._lock:
            for sock in list(self._sockets):
                with contextlib.suppress(OSError):  # already closed by its thread
                    sock.shutdown(socket.SHUT_RDWR)
            threads = list(self._threads)
        for thread in threads:
            thread.join(5)
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    def sever(self) -> None:
        """Cut every open connection (each side sees it closed), as a link going down does."""
        with self._lock:
            for sock in list(self._sockets):
                with contextlib.suppress(OSError):  # already closed by its thread
                    sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ---------------------------------------------------------------------------

    def _choose(self) -> str:
        with self._lock:
            if self.script:
                choice = self.script.pop(0)
            else:
                names = list(self.weights)
                choice = self.rng.choices(names, [self.weights[n] for n in names])[0]
            self.seen[choice] += 1
            return choice

    def _track(self, sock: socket.socket) -> socket.socket:
        with self._lock:
            self._sockets.add(sock)
        return sock

    def _forget(self, sock: socket.socket, *, reset: bool = False) -> None:
        with self._lock:
            self._sockets.discard(sock)
        if reset:
            _rst(sock)
        else:
            sock.close()

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            thread = threading.Thread(target=self._serve, args=(self._track(client),),
                                      name="faultproxy-conn")
            with self._lock:
                self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        behaviour = self._choose()
        upstream: socket.socket | None = None
        reset = False
        try:
            client.settimeout(5)
            if behaviour == "drop":
                return
            if behaviour in ("busy503", "busy429"):
                client.recv(65536)  # the request (or its start): not forwarded
                status = "503 Service Unavailable" if behaviour == "busy503" else \
                    "429 Too Many Requests"
                client.sendall(_answer(status, retry_after=True))
                return
            if behaviour == "delay":
                self._closing.wait(0.3)
            try:
                upstream = self._track(socket.create_connection(self.upstream, timeout=2))
            except OSError:
                reset = True  # the server is down: the client sees a reset
                return
            upstream.settimeout(5)
            reset = self._pump(client, upstream, behaviour)
        except OSError:
            pass
        finally:
            if upstream is not None:
                self._forget(upstream)
            self._forget(client, reset=reset)

    def _pump(self, client: socket.socket, upstream: socket.socket, behaviour: str) -> bool:
        """Shuttle bytes; returns True when the client side should be reset."""
        client.settimeout(0.05)
        upstream.settimeout(0.05)
        answered_at: float | None = None
        answer = b""
        while not self._closing.is_set():
            moved = False
            try:
                data = client.recv(65536)
                if not data:
                    return False
                upstream.sendall(data)
                moved = True
            except TimeoutError:
                pass
            try:
                data = upstream.recv(65536)
                if not data:
                    return False
                moved = True
                answered_at = time.monotonic()
                if behaviour == "reset":
                    client.sendall(data[: self.rng.randint(0, min(len(data), 120))])
                    return True
                if behaviour == "err500":
                    answer += data
                else:
                    client.sendall(data)
            except TimeoutError:
                pass
            if not moved and answered_at is not None and self.idle_close_s is not None \
                    and time.monotonic() - answered_at > self.idle_close_s:
                if behaviour == "err500":  # the server stored it; the client is told 500
                    client.sendall(_answer("500 Internal Server Error", retry_after=False))
                return False
        return False
