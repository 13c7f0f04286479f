"""The "设备自检" page: `anju doctor`'s checks run inside the service, shown in the page's language.

The checks are doctor's own (`terminal.commands.doctor.CHECKS`, run by `terminal.doctor.run`
with the service's settings and store, each bounded by its timeout), off the event loop. One
exception: the reader check reads the service's live reader state (the service holds the port;
opening it would fail or steal it). Each finding gets a title, what is wrong and what to do from
the catalog; doctor's own English line and command follow as details for the technician. Any
18-character ID number in a detail is masked (doctor's texts carry none; this is the backstop).

Who may open it: when clerk accounts exist, the owner's account only; with no accounts (no
sign-in at all), only a browser on the terminal itself (a loopback peer), never the LAN.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from drivers.idcard.state import ReaderState
from terminal.commands.doctor import CHECKS
from terminal.desk.frontdesk import TerminalService
from terminal.doctor import (
    FAIL,
    OK,
    SKIP,
    WARN,
    Check,
    Context,
    Finding,
    remember,
    remote,
    run,
)
from terminal.web.page import Page, redirect
from terminal.web.routes_local import devices

MARKS = {OK: "✓", WARN: "⚠", FAIL: "✗", SKIP: "–"}
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
_RUNNING = asyncio.Lock()  # one run at a time: repeated taps wait, threads never pile up


def N_(text: str) -> str:  # marks a string for the catalog (a pybabel keyword)
    return text


TITLES = {
    "settings": N_("Settings file"),
    "credential": N_("Device credential"),
    "reader": N_("ID card reader"),
    "scanner": N_("Scanner"),
    "services": N_("Services"),
    "server": N_("Central server"),
    "clock.local": N_("Clock"),
    "clock.server": N_("Clock against the server"),
    "disk": N_("Disk space"),
    "store": N_("Store integrity"),
    "backlog.moving": N_("Upload queue"),
    "backlog.rejected": N_("Rejected registrations"),
    "files": N_("File permissions"),
}
# (what is wrong, what to do) per fault; doctor's own line and command are shown below them.
FAULTS = {
    "settings": (
        N_("The settings file is invalid."),
        N_("Correct the settings file: anju config check lists each problem."),
    ),
    "credential": (
        N_("This terminal is not provisioned, or its credential is missing or unreadable."),
        N_("Provision the terminal, or fix the credential file's owner (command below)."),
    ),
    "reader": (
        N_("The ID card reader does not answer."),
        N_("Check the reader's USB cable and power, then check again."),
    ),
    "reader.sam": (
        N_("The reader answers but its security module fails or is not authorised."),
        N_("Unplug and replug the reader; if it stays, the reader needs service."),
    ),
    "reader.baud": (
        N_("The reader answers at another speed (baud) than the settings say."),
        N_("Set reader.baud to the speed shown below, or 0 to find it by itself."),
    ),
    "reader.read_errors": (
        N_("The reader keeps failing to read cards."),
        N_(
            "Lift the card, wipe it and the reader, place it flat again; if every card "
            "fails, the reader needs replacing."
        ),
    ),
    "scanner": (
        N_("The scanner is not connected."),
        N_("Check the scanner's USB cable and scanner.port."),
    ),
    "services": (
        N_("A background service is not running or keeps restarting."),
        N_("Restart it and read its log (commands below)."),
    ),
    "server.unreachable": (
        N_("The central server cannot be reached."),
        N_(
            "Check the network cable and the server address. Registrations are kept and sent later."
        ),
    ),
    "server.tls": (
        N_("The secure connection to the server failed (certificate)."),
        N_("Check the server's certificate, its name and the CA file (sync.ca_file)."),
    ),
    "server.busy": (
        N_("The central server is busy or failing."),
        N_("Check again later; if it stays, call the server's administrator."),
    ),
    "server.credential_refused": (
        N_("The server refuses this terminal's credential."),
        N_("Provision this terminal again (command below)."),
    ),
    "server.clock_rejected": (
        N_("The server rejects this terminal's clock."),
        N_("Set the time (NTP), then check again."),
    ),
    "server.refused": (
        N_("The server refuses this terminal's requests."),
        N_("Call the server's administrator with the details below."),
    ),
    "clock.implausible": (
        N_("The clock is implausible (before the release date or the newest registration)."),
        N_("Set the time. Registrations continue; date checks become warnings the clerk confirms."),
    ),
    "clock.unsynchronised": (
        N_("The clock is not synchronised."),
        N_(
            "Check that the network reaches a time server (NTP); the "
            "central server corrects event times meanwhile."
        ),
    ),
    "clock.server": (
        N_("The clock is more than a minute off the server's time."),
        N_("Set the time (NTP), then check again."),
    ),
    "disk.full": (
        N_("The disk is full: check-ins are refused."),
        N_("Free space or fit a larger card."),
    ),
    "disk.low": (N_("The disk is nearly full."), N_("Free space before check-ins are refused.")),
    "store": (
        N_("The store has integrity faults."),
        N_(
            "Stop the services, keep a copy of the store and call the developers. Do not delete it."
        ),
    ),
    "backlog.moving": (
        N_("Registrations wait to be sent and nothing moves."),
        N_("See the cause below; check that the upload service runs."),
    ),
    "backlog.rejected": (
        N_("The server rejected registrations; they wait for a person."),
        N_("Open Records, correct them and register again."),
    ),
    "files": (N_("A private file can be read by other users."), N_("Restrict it (command below).")),
    "unfinished": (
        N_("This check did not finish in time."),
        N_("Something it depends on hangs: check again, or run anju doctor."),
    ),
    "other": (N_("This check found a fault."), N_("See the details below.")),
}


@dataclass(frozen=True, slots=True)
class Row:
    check: str
    level: str
    mark: str
    title: str
    summary: str  # what is wrong, in the page's language (empty when all is well)
    advice: str  # what to do, in the page's language
    detail: str  # doctor's own line (technical; masked)
    command: str  # doctor's own advice (commands, paths; masked)


def checks(service: TerminalService) -> list[Check]:
    """Doctor's checks, the reader's replaced by the service's live reader state."""
    live = [
        Check(c.name, c.klass, lambda ctx: remote.reported(ctx, devices(service)), c.timeout_s)
        if c.name == "reader"
        else c
        for c in CHECKS
    ]
    return live


def run_checks(service: TerminalService) -> list[Finding]:
    ctx = Context(service.config, service.store.path)
    started = time.time()
    findings = run(checks(service), ctx)
    remember(service.config, findings, started)  # the heartbeat reports its class
    return findings


def fault_key(f: Finding) -> str:
    if "did not finish within" in f.what:
        return "unfinished"
    name = f.check
    if name == "reader" and (f.detail or {}).get("state") == ReaderState.FAULT:
        return "reader.sam"
    if name == "reader" and (f.detail or {}).get("cause") == "wrong_baud":
        return "reader.baud"
    if name == "reader" and (f.detail or {}).get("cause") == "read_errors":
        return "reader.read_errors"
    if name.startswith("services"):
        return "services"
    if name in ("server.busy", "server.server_failing"):
        return "server.busy"
    if name == "clock.local":
        return "clock.implausible" if f.level == FAIL else "clock.unsynchronised"
    if name == "disk":
        return "disk.full" if f.level == FAIL else "disk.low"
    return name if name in FAULTS else "other"


def title_key(name: str) -> str:
    if name in TITLES:
        return name
    return name.split(".", 1)[0] if name.split(".", 1)[0] in TITLES else name


def masked(text: str) -> str:
    return _ID_NUMBER.sub(lambda m: m[0][:2] + "*" * 14 + m[0][-2:], text)


def rows(findings: list[Finding], _: object) -> list[Row]:
    gettext = _  # the page's gettext
    out: list[Row] = []
    for f in findings:
        title = TITLES.get(title_key(f.check))
        summary = advice = ""
        if f.level in (WARN, FAIL):
            summary, advice = FAULTS[fault_key(f)]
            summary, advice = gettext(summary), gettext(advice)  # type: ignore[operator]
        out.append(
            Row(
                f.check,
                f.level,
                MARKS[f.level],
                gettext(title) if title else f.check,  # type: ignore[operator]
                summary,
                advice,
                masked(f.what),
                masked(f.todo) if f.level in (WARN, FAIL) else "",
            )
        )
    order = {FAIL: 0, WARN: 1, OK: 2, SKIP: 3}
    return sorted(out, key=lambda r: order[r.level])  # faults first: the technician's list


def allowed(page: Page, request: Request) -> bool:
    return page.may_selftest(request)


async def selftest_page(request: Request) -> Response:
    page: Page = request.app.state.page
    if not allowed(page, request):
        return _refused(page, request)
    return page.render(request, "selftest.html")


async def selftest_run(request: Request) -> Response:
    """POST /selftest/run (htmx, CSRF-guarded: the server check sends a heartbeat)."""
    page: Page = request.app.state.page
    if not allowed(page, request):
        return _refused(page, request)
    async with _RUNNING:
        findings = await asyncio.to_thread(run_checks, page.service)
    shown = rows(findings, page.gettext(request))
    faults = sum(1 for r in shown if r.level in (WARN, FAIL))
    return page.render(request, "_selftest.html", rows=shown, faults=faults)


def _refused(page: Page, request: Request) -> Response:
    if page.pin_required and page.operator(request) is not None:
        return redirect(request, "/")  # a signed-in clerk who is not the owner
    _ = page.gettext(request)
    return page.render(
        request,
        "_error.html",
        code=403,
        message=_("The self-test opens for the owner, or on the terminal's own screen."),
    )
