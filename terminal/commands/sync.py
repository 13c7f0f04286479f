"""`anju sync run|now|status`: the uploader as a service, once by hand, and its state.

Exit codes: 0 done; 1 the server could not be reached or refused (events stay queued, nothing
is lost); 2 configuration; 3 store.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

from sync.diagnosis import by_code, classify, delivery_text
from sync.errors import RequestError
from sync.fields import parse_utc
from sync.retry import RetryBudgetExhausted, RetryPolicy, StopRequested
from sync.uploader import DrainReport
from terminal.commands.context import EXIT_REFUSED, reporting, settings, store_options
from terminal.doctor.file_checks import warn_exposed_files
from terminal.store.database import Store
from terminal.store.outbox import StoreOutbox, lean_writer
from terminal.system import sdnotify
from terminal.system.liveness import Watchdog
from terminal.uploading.sync_service import SyncService, SyncState


@click.group()
def sync() -> None:
    """Send registrations to the central server."""


def _service(config_path: Path | None, db_path: Path | None, **kwargs: Any) -> SyncService:
    config, path = settings(config_path, db_path)
    store = Store.from_config(config, path=path)
    lean_writer(store)  # this process's own store: it only moves outbox rows
    try:
        return SyncService(config, store, **kwargs)
    except BaseException:
        store.close()
        raise


@sync.command()
@store_options
def run(config_path: Path | None, db_path: Path | None) -> None:
    """Run until SIGTERM: drain the outbox, heartbeat on a timer."""
    stop = threading.Event()
    # The handler only sets the event: the loop ends between two transactions.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with reporting():
        warn_exposed_files(*settings(config_path, db_path))
        service = _service(config_path, db_path, stop=stop)
        # Type=notify: started once the settings, store and credential are in hand; the
        # watchdog pings only while the upload loop progresses (terminal/system/liveness.py).
        watchdog = Watchdog([service.alive.loop])
        sdnotify.notify("READY=1\nSTATUS=uploading")
        watchdog.start()
        try:
            service.run()
        finally:
            sdnotify.notify("STOPPING=1")
            watchdog.stop()
            service.close()
            service.store.close()


@sync.command()
@store_options
@click.option("--timeout", default=120.0, show_default=True,
              help="Give up retrying after this many seconds (nothing is lost).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def now(config_path: Path | None, db_path: Path | None, timeout: float, quiet: bool) -> None:
    """Drain the backlog once, with a progress bar and a summary. With nothing to send, one
    signed heartbeat says whether the server accepts this terminal. Exit 1 (events stay
    queued) with the cause and what to do: server unreachable, TLS, credential refused,
    clock rejected."""
    with reporting():
        config, _ = settings(config_path, db_path)
        policy = RetryPolicy(initial_s=config["sync.backoff_initial_s"],
                             cap_s=min(config["sync.backoff_cap_s"], 30), max_elapsed_s=timeout,
                             not_delivered_attempts=None)
        service = _service(config_path, db_path, policy=policy)
        try:
            total = service.outbox.backlog()
            error = None
            with click.progressbar(length=total, label="sending", file=sys.stderr,
                                   hidden=quiet or total == 0) as bar:
                done = [0]

                def progress(report: DrainReport) -> None:
                    moved = report.acknowledged + report.rejected
                    bar.update(moved - done[0])
                    done[0] = moved

                answered = False
                try:
                    report = service.drain(progress=progress)
                    if not report.requests:
                        # Nothing to send: ask the server once (signed) rather than claim
                        # a success nobody answered.
                        service.heartbeat()
                        answered = True
                except (RequestError, RetryBudgetExhausted, StopRequested) as err:
                    report, error = None, err
            remaining = service.outbox.backlog()
        finally:
            service.close()
            service.store.close()
    if report is not None and not report.requests and error is None:
        click.echo("nothing to send; the server " + ("answered a signed heartbeat: this "
                   "terminal is accepted" if answered else "was not contacted"))
    elif report is not None:
        click.echo(f"acknowledged {report.acknowledged} (duplicates {report.duplicates}), "
                   f"rejected {report.rejected}, remaining {remaining}")
        for event_id, code, field in report.rejections:
            click.echo(f"  rejected {event_id}: {code}" + (f" ({field})" if field else ""))
    if error is not None:
        if isinstance(error, StopRequested):
            click.echo(f"error: stopped; {remaining} events stay queued", err=True)
        else:
            last = error.last if isinstance(error, RetryBudgetExhausted) else error
            cause = classify(last)
            click.echo(f"error: not sent: {cause.text} ({type(last).__name__}); {remaining} "
                       f"events stay queued. {cause.advice[0].upper()}{cause.advice[1:]}.",
                       err=True)
        sys.exit(EXIT_REFUSED)


def local_time(utc_text: str | None, zone: ZoneInfo) -> str:
    """A stored UTC time as the guesthouse reads it, with its zone: 2026-03-01 10:00:00 CST
    (+08:00). The JSON output keeps UTC for scripts."""
    if not utc_text:
        return ""
    try:
        at = parse_utc(utc_text)
    except ValueError:
        return utc_text
    local = at.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname()} ({offset[:3]}:{offset[3:]})"


@sync.command()
@store_options
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def status(config_path: Path | None, db_path: Path | None, as_json: bool) -> None:
    """Backlog, oldest queued age, last success, last error, rejected events by reason, and
    the card reader's state as the next heartbeat will report it. Times are local (the
    registry.timezone setting) with the zone; --json keeps them in UTC."""
    with reporting():
        config, path = settings(config_path, db_path)
        with Store.from_config(config, path=path) as store:
            outbox = StoreOutbox(store, timezone=config["registry.timezone"])
            health = outbox.health()
            reasons = outbox.rejections()
        state = SyncState.load(config["sync.state_file"])
    cause = by_code(state.last_error_class) if state.last_error else None
    doc = {
        "backlog": health.backlog, "oldest_queued_age_s": health.oldest_queued_age_s,
        "rejected": health.rejected,
        "rejections": [{"code": c, "field": f, "count": n} for c, f, n in reasons],
        "last_success": state.last_success, "last_error": state.last_error,
        "last_error_at": state.last_error_at, "last_heartbeat": state.last_heartbeat,
        "last_error_class": state.last_error_class, "offline_since": state.offline_since,
        "advice": cause.advice if cause else None,
        "delivery_state": state.delivery_state, "delivery_since": state.delivery_since,
        "server_url": config["sync.server_url"], "clock_synchronised": health.clock_synchronised,
        "reader": None if health.reader is None else {
            "status": health.reader.status, "detail": health.reader.detail,
            "state_age_s": health.reader.state_age_s, "seen_age_s": health.reader.seen_age_s},
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    age = health.oldest_queued_age_s
    zone = ZoneInfo(config["registry.timezone"])
    click.echo(f"backlog        {health.backlog}"
               + (f" (oldest {age / 60:.0f} min)" if age is not None else ""))
    click.echo(f"last success   {local_time(state.last_success, zone) or 'never'}")
    if state.offline_since:
        click.echo(f"state          OFFLINE since {local_time(state.offline_since, zone)}")
    elif state.last_success:
        click.echo("state          online")
    click.echo(f"last error     {state.last_error or '-'}"
               + (f" at {local_time(state.last_error_at, zone)}" if state.last_error else ""))
    if cause is not None:
        click.echo(f"cause          {cause.text}" + ("" if cause.retried
                                                      else "  ALARM: needs a technician"))
        click.echo(f"what to do     {cause.advice}")
    if state.last_heartbeat:
        click.echo(f"last heartbeat {local_time(state.last_heartbeat, zone)}")
    if state.delivery_state:  # as that heartbeat told the server
        click.echo(f"delivery       {state.delivery_state} since "
                   f"{local_time(state.delivery_since, zone)}: "
                   f"{delivery_text(state.delivery_state)}")
    reader = health.reader
    if reader is not None:
        click.echo(f"reader         {reader.status}"
                   + (f" for {reader.state_age_s / 60:.0f} min" if reader.state_age_s is not None
                      else "") + (f": {reader.detail}" if reader.detail else ""))
    click.echo(f"rejected       {health.rejected}" + ("  ALARM: needs a technician"
                                                      if health.rejected else ""))
    for code, field, count in reasons:
        click.echo(f"  {count} x {code}" + (f" ({field})" if field else ""))
    if health.rejected:
        click.echo("what to do     the server refuses these events: `anju stays` / the page's "
                   "Records show each one with its reason; correct and register again, or "
                   "re-queue held_back events once the server is fixed")
