"""The checks that read this machine only: credential, clock, disk, store, backlog, files."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

from sync.diagnosis import by_code
from sync.fields import parse_utc
from terminal.desk import checkday
from terminal.doctor import FAIL, OK, SKIP, WARN, Context, Finding
from terminal.doctor.file_checks import exposed_files
from terminal.store import connection
from terminal.store import verify as verifier
from terminal.store.database import Store
from terminal.store.outbox import StoreOutbox
from terminal.system import clock
from terminal.uploading.sync_service import SyncState

# Backlog "not moving": events older than this and no answered request for as long.
BACKLOG_STUCK_S = 15 * 60
PROVISION = "sudo anju provision --server URL --token TOKEN --config /etc/anju/terminal.toml"


def settings(ctx: Context) -> list[Finding]:
    if ctx.config is None:
        return [
            Finding(
                "settings",
                "settings",
                FAIL,
                f"settings invalid: {ctx.config_error}",
                "correct the settings file (anju config check shows each problem)",
            )
        ]
    where = str(ctx.config.source) if ctx.config.source else "defaults (no settings file)"
    return [Finding("settings", "settings", OK, f"settings valid: {where}")]


def credential(ctx: Context) -> list[Finding]:
    if ctx.config is None:
        return [_skipped("credential", "credential")]
    path = Path(ctx.config["sync.credential_file"])
    if not ctx.config["sync.server_url"]:
        return [
            Finding(
                "credential",
                "credential",
                FAIL,
                "not provisioned: sync.server_url is not set",
                f"provision this terminal: {PROVISION}",
            )
        ]
    try:
        doc = json.loads(path.read_text("utf-8"))
        doc["device_id"], doc["secret"]
    except FileNotFoundError:
        return [
            Finding(
                "credential",
                "credential",
                FAIL,
                f"no credential at {path}",
                f"provision this terminal: {PROVISION}",
            )
        ]
    except PermissionError:
        return [
            Finding(
                "credential",
                "credential",
                FAIL,
                f"credential {path} is unreadable by this user",
                f"run doctor as the service's user (sudo -u anju anju doctor) or fix "
                f"the owner: sudo chown anju:anju {path} && sudo chmod 600 {path}",
            )
        ]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return [
            Finding(
                "credential",
                "credential",
                FAIL,
                f"credential {path} is damaged ({type(err).__name__})",
                f"provision again: {PROVISION}",
            )
        ]
    return [Finding("credential", "credential", OK, f"credential present ({doc['device_id']})")]


def clock_state(ctx: Context) -> list[Finding]:
    now = ctx.now() if ctx.now else datetime.now(UTC)
    synced = ctx.synchronised
    if synced is None:
        synced = clock.SystemClock().synchronised()
    newest = None
    if ctx.database is not None and ctx.database.exists():
        conn = connection.connect(ctx.database, readonly=True)
        try:
            newest = checkday.newest_event_time(conn)
        finally:
            conn.close()
    instant = clock.Instant(now, synced, 0, "doctor")
    trust = clock.assess(instant, not_before=clock.NOT_BEFORE, newest_event=newest)
    shown = f"{now:%Y-%m-%d %H:%M:%S} UTC"
    if trust.state == clock.IMPLAUSIBLE:
        floor = max(clock.NOT_BEFORE, newest or clock.NOT_BEFORE)
        return [
            Finding(
                "clock.local",
                "clock",
                FAIL,
                f"clock implausible: {shown} is before {floor:%Y-%m-%d %H:%M} UTC "
                "(the release date or the newest stored event)",
                "registrations continue with date checks as warnings; set the time "
                "(sudo timedatectl set-time, or fix NTP: timedatectl timesync-status)",
                {"wall": shown, "synchronised": synced},
            )
        ]
    if not synced:
        return [
            Finding(
                "clock.local",
                "clock",
                WARN,
                f"clock not synchronised ({shown})",
                "check NTP: timedatectl timesync-status; the network must reach an NTP "
                "server (the central server corrects event times meanwhile)",
                {"wall": shown, "synchronised": False},
            )
        ]
    return [Finding("clock.local", "clock", OK, f"clock synchronised ({shown})")]


def disk(ctx: Context) -> list[Finding]:
    if ctx.config is None or ctx.database is None:
        return [_skipped("disk", "disk")]
    where = ctx.database.parent if ctx.database.parent.exists() else Path("/")
    free = shutil.disk_usage(where).free
    low = int(ctx.config["store.min_free_bytes"])
    mb = free // (1024 * 1024)
    detail = {"free_bytes": free, "min_free_bytes": low, "path": str(where)}
    if free < low:
        return [
            Finding(
                "disk",
                "disk",
                FAIL,
                f"disk full: {mb} MB free on {where} (below "
                f"store.min_free_bytes {low // (1024 * 1024)} MB): check-ins are refused",
                "free space (journalctl --vacuum-size=50M, old backups) or a larger card",
                detail,
            )
        ]
    if free < 2 * low:
        return [
            Finding(
                "disk",
                "disk",
                WARN,
                f"disk low: {mb} MB free on {where}",
                "free space before check-ins are refused",
                detail,
            )
        ]
    return [Finding("disk", "disk", OK, f"disk: {mb} MB free", detail=detail)]


def store(ctx: Context) -> list[Finding]:
    if ctx.database is None:
        return [_skipped("store", "store")]
    if not ctx.database.exists():
        return [
            Finding(
                "store",
                "store",
                FAIL,
                f"no store at {ctx.database}",
                "start the terminal service once (it creates the store) or set store.database",
            )
        ]
    faults, events = verifier.verify_file(ctx.database)
    if faults:
        return [
            Finding(
                "store",
                "store",
                FAIL,
                f"store: {len(faults)} faults, first: {faults[0].code}: {faults[0].message}",
                "stop the services, keep a copy of the store, run `anju store verify` "
                "and call the developers; do not delete it",
                {"faults": [f.code for f in faults[:20]]},
            )
        ]
    return [Finding("store", "store", OK, f"store: {events} events, integrity and chain verified")]


def backlog(ctx: Context) -> list[Finding]:
    if ctx.config is None or ctx.database is None:
        return [_skipped("backlog", "backlog")]
    if not ctx.database.exists():
        return [Finding("backlog", "backlog", SKIP, "skipped: no store")]
    with Store.from_config(ctx.config, path=ctx.database) as opened:
        outbox = StoreOutbox(opened, timezone=ctx.config["registry.timezone"])
        health = outbox.health(now=ctx.now() if ctx.now else None)
        reasons = outbox.rejections()
    state = SyncState.load(ctx.config["sync.state_file"])
    out: list[Finding] = []
    age = health.oldest_queued_age_s
    moved = _age_s(state.last_success, ctx.now() if ctx.now else datetime.now(UTC))
    if (
        health.backlog
        and age is not None
        and age > BACKLOG_STUCK_S
        and (moved is None or moved > BACKLOG_STUCK_S)
    ):
        cause = by_code(state.last_error_class) if state.last_error else None
        out.append(
            Finding(
                "backlog.moving",
                "backlog",
                FAIL,
                f"backlog not moving: {health.backlog} events, oldest {age / 60:.0f} min, last "
                f"answered request {'never' if moved is None else f'{moved / 60:.0f} min ago'}"
                + (f"; last error {state.last_error}: {cause.text}" if cause else ""),
                cause.advice if cause else "check that anju-sync runs: systemctl status anju-sync",
                {"backlog": health.backlog, "oldest_age_s": age},
            )
        )
    else:
        out.append(
            Finding(
                "backlog.moving",
                "backlog",
                OK,
                f"backlog {health.backlog}",
                detail={"backlog": health.backlog},
            )
        )
    if health.rejected:
        listed = ", ".join(
            f"{n} x {code}" + (f" ({fld})" if fld else "") for code, fld, n in reasons
        )
        out.append(
            Finding(
                "backlog.rejected",
                "backlog",
                FAIL,
                f"{health.rejected} events rejected, waiting for a person: {listed}",
                "see `anju sync status` and the page's Records; correct and register "
                "again; re-queue held_back events once the server is fixed",
                {"rejected": health.rejected},
            )
        )
    return out


def files(ctx: Context) -> list[Finding]:
    if ctx.config is None or ctx.database is None:
        return [_skipped("files", "files")]
    exposed = exposed_files(ctx.config, ctx.database)
    if not exposed:
        return [Finding("files", "files", OK, "private files: not readable by other users")]
    return [
        Finding("files", "files", FAIL, item.message(), f"sudo chmod 600 {item.path}")
        for item in exposed
    ]


def _age_s(utc_text: str | None, now: datetime) -> float | None:
    if not utc_text:
        return None
    try:
        at = parse_utc(utc_text)
    except ValueError:
        return None
    return max(0.0, (now - at).total_seconds())


def _skipped(name: str, klass: str) -> Finding:
    return Finding(name, klass, SKIP, "skipped: the settings are invalid")
