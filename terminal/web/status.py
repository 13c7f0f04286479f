"""The status bar: reader, server, backlog, clock, disk — in words a clerk understands.

`Health` is gathered by the front desk (terminal/desk/health.py); `items()` turns it into what the
bar shows in the page's language, each problem with what to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drivers.idcard.state import ReaderState
from terminal.desk.health import Health

OK, WARN, BAD = "ok", "warn", "bad"
BACKLOG_WARN_S = 3600  # an hour undelivered: worth telling the clerk, not yet alarming


@dataclass(frozen=True, slots=True)
class Item:
    key: str
    level: str  # OK | WARN | BAD
    text: str
    advice: str = ""
    detail: str = ""  # shown small beside the text (the reader's SAM id)


def items(h: Health, _: Callable[[str], str]) -> list[Item]:
    out = [_reader(h, _), _server(h, _), _backlog(h, _), _clock(h, _)]
    free_mb = h.disk_free_bytes // (1024 * 1024)
    if h.disk_free_bytes < h.disk_min_bytes * 2:
        level = BAD if h.disk_free_bytes < h.disk_min_bytes else WARN
        out.append(Item("disk", level, _("Storage almost full ({mb} MB)").format(mb=free_mb),
                        _("Call the technician to free space.")))
    else:
        free = f"{free_mb / 1024:.0f} GB" if free_mb >= 10240 else f"{free_mb} MB"
        out.append(Item("disk", OK, _("Storage {free} free").format(free=free)))
    return out


def _clock(h: Health, _: Callable[[str], str]) -> Item:
    """The advice fits the cause: a server that answers rules out the cable (docs/time.md)."""
    if not h.clock_plausible:
        return Item("clock", WARN, _("Clock wrong"),
                    _("Keep registering and check the dates on the document by eye; "
                      "call the technician to fix the time."))
    if h.server_refusal == "clock_rejected":
        return Item("clock", BAD, _("Server rejects this terminal's clock"),
                    _("Keep registering: everything is saved here. Call the technician to set "
                      "the time."))
    if h.clock_synchronised:
        return Item("clock", OK, _("Clock OK"))
    if h.server_refusal is not None:
        advice = _("Keep registering and check the dates on the document by eye; "
                   "call the technician.")
    elif h.server_reachable is None:
        advice = _("Keep registering and check the dates on the document by eye; "
                   "call the technician to set up the network time.")
    elif h.server_reachable:
        advice = _("Keep registering and check the dates on the document by eye; the server "
                   "corrects the times. If this stays for an hour, call the technician.")
    else:
        advice = _("Times are kept and corrected later; check the network cable.")
    return Item("clock", WARN, _("Clock not synchronised"), advice)


def _reader(h: Health, _: Callable[[str], str]) -> Item:
    if h.reader_state in (ReaderState.IDLE, ReaderState.HOLDING):
        return Item("reader", OK, _("Card reader connected"), detail=h.reader_sam_id or "")
    if h.reader_state is ReaderState.REPLACE:
        return Item("reader", WARN, _("Card not read"),
                    _("Lift the card and place it flat on the reader again."))
    if h.reader_state is ReaderState.FAULT:
        return Item("reader", BAD, _("Card reader fault"),
                    _("Unplug the reader, plug it in again; if it stays, call the technician."))
    return Item("reader", BAD, _("Card reader not connected"),
                _("Check the reader's USB cable; reading resumes by itself."))


def _server(h: Health, _: Callable[[str], str]) -> Item:
    if h.server_reachable is None:
        return Item("server", WARN, _("Server not set up"),
                    _("Registrations are kept here; call the technician to set up sending."))
    if h.server_refusal == "credential_refused":
        return Item("server", BAD, _("Server refuses this terminal"),
                    _("Keep registering: everything is saved here. Call the technician to "
                      "register this terminal again (anju provision)."))
    if h.server_refusal == "tls":
        return Item("server", BAD, _("Secure connection to the server failed"),
                    _("Keep registering: everything is saved here. Call the technician to "
                      "check the server's certificate."))
    if h.server_refusal == "refused":
        return Item("server", BAD, _("Server refuses the uploads"),
                    _("Keep registering: everything is saved here. Call the technician."))
    if h.server_reachable and h.server_refusal != "clock_rejected":
        return Item("server", OK, _("Server reachable"))
    if h.server_reachable:
        return Item("server", WARN, _("Server reachable, sending held up"),
                    _("Keep registering: everything is saved here."))
    return Item("server", WARN, _("Server unreachable"),
                _("Keep registering: everything is saved here and sent when the network is back."))


def _backlog(h: Health, _: Callable[[str], str]) -> Item:
    if h.rejected:
        return Item("backlog", BAD, _("{n} registrations refused by the server").format(
            n=h.rejected), _("Open Records to see which field to correct."))
    if not h.backlog:
        return Item("backlog", OK, _("All sent"))
    age = h.oldest_age_s or 0.0
    minutes = int(age // 60)
    text = (_("{n} waiting to send (oldest {m} min)").format(n=h.backlog, m=minutes)
            if minutes else _("{n} waiting to send").format(n=h.backlog))
    if age > BACKLOG_WARN_S:
        return Item("backlog", WARN, text,
                    _("Check the network; if it stays, call the technician."))
    return Item("backlog", OK, text)
