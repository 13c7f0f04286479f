"""Which host of a multi-host PostgreSQL URL a new connection tries first.

libpq (and psycopg) try a URL's hosts in the order written, each for up to `connect_timeout`.
After a failover from a primary that *hung* (it accepts TCP and never answers), every new
connection would first wait out `connect_timeout` on the old primary before it reaches the
promoted standby: 3 s added to every reconnect, by default, while the old machine stays frozen.

The watchdog (central/db/watchdog.py) knows better, and tells a `HostOrder`: the host it last
reached with the URL's own target (the primary, for `target_session_attrs=read-write`) goes
first; a host it found hung goes last, until it answers again. A URL with one host is left as
it is. The order is only a preference: every host is still tried, so nothing is lost when the
preference is stale.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

Peer = tuple[str, int]  # (host as libpq reports it, port): BoundedConnection.peer
_SINGLE_TARGETS = ("read-write", "primary")
DEFAULT_PORT = 5432


class HostOrder:
    """The preference of one engine (its pool's connections and its watchdog's)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reached: Peer | None = None
        self._hung: set[Peer] = set()

    @property
    def reached(self) -> Peer | None:
        """The host the watchdog last connected to (None before its first connection)."""
        return self._reached

    def note_reached(self, peer: Peer) -> Peer | None:
        """The watchdog connected to `peer`; returns the host it had reached before."""
        with self._lock:
            before, self._reached = self._reached, peer
            self._hung.discard(peer)
        return before

    def note_hung(self, peer: Peer) -> None:
        with self._lock:
            self._hung.add(peer)
            if self._reached == peer:
                self._reached = None

    def arrange(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Connection parameters with their hosts reordered: the host reached first, hung hosts
        last, the others as written (one host: unchanged)."""
        hosts = _split(params.get("host"))
        if len(hosts) < 2:
            return dict(params)
        addrs = _split(params.get("hostaddr"))
        ports = _split(params.get("port"))
        if len(ports) == 1:  # one port for every host, as libpq allows
            ports *= len(hosts)
        if (addrs and len(addrs) != len(hosts)) or (ports and len(ports) != len(hosts)):
            return dict(params)  # libpq will refuse it: its error, not a reordered one
        with self._lock:
            reached, hung = self._reached, set(self._hung)

        def rank(i: int) -> int:
            peer = (hosts[i] or (addrs[i] if addrs else ""), _port(ports[i] if ports else ""))
            return 0 if peer == reached else 2 if peer in hung else 1

        order = sorted(range(len(hosts)), key=rank)  # stable: ties stay as written
        arranged = {**params, "host": ",".join(hosts[i] for i in order)}
        if addrs:
            arranged["hostaddr"] = ",".join(addrs[i] for i in order)
        if ports:
            arranged["port"] = ",".join(ports[i] for i in order)
        return arranged


def single_target(params: Mapping[str, Any]) -> bool:
    """Whether exactly one host is the right one (the primary) for these parameters: then any
    connection to another host is a connection to the wrong machine."""
    return str(params.get("target_session_attrs", "any")) in _SINGLE_TARGETS and len(
        _split(params.get("host"))
    ) > 1


def _split(value: Any) -> list[str]:
    return [] if value is None or value == "" else str(value).split(",")


def _port(text: str) -> int:
    return int(text) if text.strip() else DEFAULT_PORT
