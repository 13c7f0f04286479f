"""The checks that talk to something: the reader (through the terminal service when it runs),
the scanner, systemd, and the central server (one signed heartbeat)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
import serial

from drivers.idcard.reader import CardReader
from drivers.idcard.state import ReaderState
from drivers.idcard.transport import Clock, SerialTransport, Timeouts, Transport
from sync.client import SyncClient
from sync.diagnosis import BUSY, CLOCK_REJECTED, SERVER_FAILING, TLS, UNREACHABLE, classify
from sync.errors import RequestError
from sync.retry import RetryBudgetExhausted, RetryPolicy
from sync.uploader import Uploader
from terminal.doctor import FAIL, OK, SKIP, WARN, Context, Finding, last_run
from terminal.doctor.portcheck import candidates, diagnose
from terminal.errors import ConfigError
from terminal.store.database import Store
from terminal.store.outbox import StoreOutbox
from terminal.system import service_faults
from terminal.uploading.sync_service import SyncState, load_credentials
from terminal.version import software_version

UNITS = ("anju-terminal.service", "anju-sync.service")
LOCAL_TIMEOUT_S = 1.0
OFFSET_LIMIT_S = 60.0  # the server refuses signatures beyond its own skew limit; warn before
PROBE_S = 0.5  # per rate while doctor probes: all five rates well inside the check's 8 s
EXTRA_POLLS = 4  # after a failed read, polls to tell one bad read from repeated ones
REPEATED_FAILURES = 3  # failed reads in a row (the reader's own "re-place the card")


def ask_service(ctx: Context) -> dict[str, Any] | None:
    """The terminal service's own view (GET /local/health), or None when it does not answer."""
    if ctx.local_url is None and ctx.config is not None:
        ctx.local_url = f"http://127.0.0.1:{ctx.config['web.port']}"
    if ctx.local_url is None:
        return None
    try:
        answer = requests.get(ctx.local_url + "/local/health", timeout=LOCAL_TIMEOUT_S)
        return answer.json() if answer.status_code == 200 else None
    except (requests.RequestException, ValueError):
        return None


def reader(ctx: Context) -> list[Finding]:
    if ctx.config is None:
        return [Finding("reader", "reader", SKIP, "skipped: the settings are invalid")]
    port = ctx.config["reader.port"]
    local = ask_service(ctx)
    if local is not None:
        return reported(ctx, local)
    opener = ctx.open_reader or serial_reader
    transport, clock = opener(port, ctx.config["reader.baud"] or None, Timeouts(probe=PROBE_S))
    card_reader = CardReader(transport, lambda _card: None, clock=clock)
    try:
        card_reader.poll_once()
        # A failed read may be one bad placement or the reader failing every time: poll a
        # few more times (each a few ms) to tell them apart.
        for _ in range(EXTRA_POLLS):
            status = card_reader.status
            if (not status.connected or not status.failures
                    or status.state is ReaderState.REPLACE):
                break
            card_reader.poll_once()
        status = card_reader.status
    finally:
        card_reader.stop()
    shown = {
        "state": status.state,
        "sam_id": status.sam_id,
        "baud": status.baud,
        "last_error": status.last_error,
        "failures": status.failures,
        "reads": status.reads,
    }
    if not status.connected and status.state is not ReaderState.FAULT:
        found = diagnose(port, str(status.last_error or ""))
        if found.cause == "in_use_by_service":
            return [
                Finding(
                    "reader",
                    "reader",
                    FAIL,
                    found.english + " Its page does not "
                    f"answer on {ctx.local_url}: the service may be hung",
                    "sudo systemctl restart anju-terminal",
                    shown,
                ),
                _scanner(ctx, None),
            ]
        if found.cause != "other":
            todo = {
                "missing": "set reader.port or plug the reader in",
                "permission": "add the user to the port's group",
                "in_use": "stop the other process",
            }[found.cause]
            return [
                Finding("reader", "reader", FAIL, found.english, todo, shown),
                _scanner(ctx, None),
            ]
    return [_reader_finding(port, shown, "", ctx.config["reader.baud"]), _scanner(ctx, None)]


def serial_reader(port: str, baud: int | None, timeouts: Timeouts) -> tuple[Transport, Clock]:
    """The reader on its serial port, in real time: what `anju doctor` opens."""
    return SerialTransport(port, baud=baud, timeouts=timeouts), time.monotonic


def reported(ctx: Context, local: dict[str, Any]) -> list[Finding]:
    """The reader and scanner as the running service reports them (/local/health's answer,
    or the same view taken in-process by the page's self-test): the port is never opened."""
    assert ctx.config is not None
    found = _reader_finding(
        ctx.config["reader.port"], local["reader"], "the terminal service reports: ",
        ctx.config["reader.baud"],
    )
    return [found, _scanner(ctx, local)]


def _reader_finding(port: str, status: dict[str, Any], via: str,
                    configured_baud: int | None = None) -> Finding:
    state = status.get("state")  # a ReaderState, through the service's JSON
    error = status.get("last_error") or ""
    failures, reads = int(status.get("failures") or 0), int(status.get("reads") or 0)
    working = (ReaderState.IDLE, ReaderState.HOLDING)
    if state == ReaderState.REPLACE or (state in working and failures >= REPEATED_FAILURES
                                        and failures > reads):
        return Finding(
            "reader",
            "reader",
            WARN,
            f"{via}repeated read errors on {port}: {failures} failed reads"
            f"{' in a row' if state == ReaderState.REPLACE else f' against {reads} good ones'}"
            f" (last: {error or 'unknown'})",
            "lift the card, wipe it and the reader's surface, and place it flat again; if "
            "every card fails, the reader's antenna or SAM module is failing: replace the "
            "reader; if the errors are checksum/timeouts, try another USB port or cable",
            {**status, "cause": "read_errors"},
        )
    baud = status.get("baud")
    if state in working and configured_baud and baud and baud != configured_baud:
        return Finding(
            "reader",
            "reader",
            WARN,
            f"{via}the reader on {port} answers at {baud} baud, but reader.baud is "
            f"{configured_baud}: every connection probes the wrong rate first",
            f"set reader.baud = {baud} in the settings (or 0 to probe every rate); "
            "`anju provision` writes the rate it found",
            {**status, "cause": "wrong_baud"},
        )
    if state in working:
        return Finding(
            "reader",
            "reader",
            OK,
            f"{via}reader connected on {port} (SAM "
            f"{status.get('sam_id')}, {status.get('baud')} baud)",
            detail=status,
        )
    if state == ReaderState.FAULT:
        return Finding(
            "reader",
            "reader",
            FAIL,
            f"{via}the reader answers but its SAM module fails or is not authorised: {error}",
            "unplug and replug the reader; if it stays, the reader needs service "
            "(its SAM module is not working or not authorised)",
            status,
        )
    others = ", ".join(c for c in candidates() if c != port) or "none"
    if port and not port.startswith(("/dev/", "\\\\")) and "://" not in port:
        others += " (reader.port should be a device path)"
    where = diagnose(port, error) if port and "://" not in port else None
    if where is not None and where.cause in ("missing", "permission"):
        return Finding(
            "reader",
            "reader",
            FAIL,
            f"{via}{where.english}",
            "fix reader.port or the cable",
            status,
        )
    return Finding(
        "reader",
        "reader",
        FAIL,
        f"{via}no reader answers on {port} ({error or 'no answer'})",
        f"check the reader's USB cable and power; a wrong port? other serial "
        f"devices: {others}; a wrong baud? leave reader.baud unset to probe every "
        "rate",
        status,
    )


def _scanner(ctx: Context, local: dict[str, Any] | None) -> Finding:
    assert ctx.config is not None
    port = ctx.config["scanner.port"]
    if not port:
        return Finding("scanner", "reader", SKIP, "no serial scanner configured")
    if local is not None and local.get("scanner") is not None:
        if local["scanner"]:
            return Finding("scanner", "reader", OK, f"scanner connected on {port}")
        return Finding(
            "scanner",
            "reader",
            FAIL,
            f"scanner on {port} not connected (the terminal service reports)",
            "check the scanner's USB cable",
        )
    if "://" in port:
        return Finding("scanner", "reader", OK, f"scanner port {port} configured")
    if not os.path.exists(port):
        others = ", ".join(c for c in candidates() if c != ctx.config["reader.port"]) or "none"
        return Finding(
            "scanner",
            "reader",
            FAIL,
            f"scanner absent: {port} does not exist (other serial devices: {others})",
            "check the scanner's USB cable, or set scanner.port (a /dev/serial/by-id/ name; "
            "`anju provision --scanner-wait 15` finds it when you scan a code)",
        )
    try:  # opening it is all one can ask of a scanner: it only speaks when it scans
        serial.Serial(port, exclusive=True, timeout=0).close()
    except (serial.SerialException, OSError) as err:
        found = diagnose(port, str(err))
        return Finding("scanner", "reader", FAIL, f"scanner port: {found.english}",
                       "see what it says: the port's group, or the process holding it",
                       {"cause": found.cause})
    return Finding("scanner", "reader", OK,
                   f"scanner port {port} present and free (scan a code on the page to try it)")


def services(ctx: Context) -> list[Finding]:
    out: list[Finding] = []
    systemd = ctx.systemd
    if systemd is None:
        systemd = bool(shutil.which("systemctl")) and Path("/run/systemd/system").is_dir()
    if not systemd:
        out.append(Finding("services", "services", SKIP, "systemd is not running here"))
    for unit in UNITS if systemd else ():
        shown = subprocess.run(
            ["systemctl", "show", "-p", "ActiveState,SubState,NRestarts,Result", unit],
            capture_output=True,
            text=True,
            timeout=3,
            check=False,
        ).stdout
        props = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
        active, restarts = props.get("ActiveState", "?"), int(props.get("NRestarts") or 0)
        if active != "active":
            out.append(
                Finding(
                    f"services.{unit}",
                    "services",
                    FAIL,
                    f"{unit} is {active} (result {props.get('Result')})",
                    f"sudo systemctl start {unit}; journalctl -u {unit} -n 50",
                    props,
                )
            )
        elif restarts:
            out.append(
                Finding(
                    f"services.{unit}",
                    "services",
                    WARN,
                    f"{unit} restarted {restarts} times since it was started",
                    f"journalctl -u {unit} -n 100 says why",
                    props,
                )
            )
        else:
            out.append(Finding(f"services.{unit}", "services", OK, f"{unit} running", detail=props))
    if ctx.config is not None:
        directory = Path(ctx.config["sync.state_file"]).parent
        for unit, entry in sorted(service_faults.load(directory)["units"].items()):
            out.append(
                Finding(
                    f"services.faults.{unit}",
                    "services",
                    FAIL,
                    f"{unit} failed {entry.get('count')} times (last at "
                    f"{entry.get('last_at')}, result "
                    f"{(entry.get('last') or {}).get('result')})",
                    f"journalctl -u {unit}; once fixed: anju faults clear",
                    entry,
                )
            )
    return out


def server(ctx: Context) -> list[Finding]:
    """One signed heartbeat: the server answers, accepts this credential, and its clock."""
    config = ctx.config
    if config is None or not config["sync.server_url"] or ctx.database is None:
        return [Finding("server", "server", SKIP, "skipped: not provisioned")]
    try:
        creds = load_credentials(config["sync.credential_file"])
    except ConfigError:
        return [Finding("server", "server", SKIP, "skipped: no readable credential")]
    url = config["sync.server_url"]
    wall = (lambda: ctx.now().timestamp()) if ctx.now else None
    client = SyncClient(
        url,
        creds,
        timeout=(ctx.server_timeout_s, ctx.server_timeout_s),
        ca_file=config["sync.ca_file"] or None,
        **({"wall": wall} if wall else {}),
    )
    try:
        with Store.from_config(config, path=ctx.database) as opened:
            up = Uploader(
                StoreOutbox(opened, timezone=config["registry.timezone"],
                            doctor=lambda: last_run(config)),  # the previous full run
                client,
                policy=RetryPolicy(not_delivered_attempts=1, maybe_delivered_attempts=1),
                sleep=lambda _s: None,
                software_version=software_version() + " doctor",
            )
            up.delivery_override = _delivery(config) or (None, None)
            try:
                up.heartbeat()
            except (RequestError, RetryBudgetExhausted) as err:
                return [_refusal(url, err.last if isinstance(err, RetryBudgetExhausted) else err)]
        offset = client.offset
    finally:
        client.close()
    out = [Finding("server", "server", OK, f"server {url} accepts this terminal")]
    if abs(offset) > OFFSET_LIMIT_S:
        out.append(
            Finding(
                "clock.server",
                "clock",
                FAIL,
                f"clock off by {offset:+.0f} s against the server",
                "set the time: timedatectl timesync-status (NTP); event times are "
                "corrected by the server meanwhile",
                {"offset_s": offset},
            )
        )
    else:
        out.append(
            Finding(
                "clock.server",
                "clock",
                OK,
                f"clock within {abs(offset):.1f} s of the server",
                detail={"offset_s": offset},
            )
        )
    return out


def _delivery(config: Any) -> tuple[str, float] | None:
    """The sync service's delivery state from its state file, so doctor's heartbeat does not
    tell the fleet page "ok" for a terminal whose uploader is failing (None: not known)."""
    state = SyncState.load(Path(config["sync.state_file"]))
    if not state.delivery_state:
        return None
    try:
        since = datetime.fromisoformat(str(state.delivery_since).replace("Z", "+00:00"))
        age = max(0.0, (datetime.now(UTC) - since).total_seconds())
    except ValueError:
        age = 0.0
    return state.delivery_state, min(age, 10 * 365 * 86400.0)


def _refusal(url: str, err: RequestError) -> Finding:
    cause = classify(err)
    klass = (
        "server"
        if cause.code in (UNREACHABLE, TLS, BUSY, SERVER_FAILING)
        else "clock"
        if cause.code == CLOCK_REJECTED
        else "refused"
    )
    return Finding(
        f"server.{cause.code}",
        klass,
        FAIL,
        f"{cause.text} ({url}: {type(err).__name__} {err.code or err.status or ''})".replace(
            " )", ")"
        ),
        cause.advice,
        {"cause": cause.code},
    )
