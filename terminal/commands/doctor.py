"""`anju doctor`: check everything a technician meets; for each fault, what is wrong and what
to do. The checks live in terminal/doctor/; the exit codes are in its docstring and --help."""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from terminal.commands.options import config_option
from terminal.config import load_config
from terminal.doctor import (
    FAIL,
    OK,
    SKIP,
    WARN,
    Check,
    Context,
    exit_code,
    local,
    remember,
    remote,
    run,
)
from terminal.errors import ConfigError

CHECKS = (
    Check("settings", "settings", local.settings, 1.0),
    Check("credential", "credential", local.credential, 2.0),
    Check("reader", "reader", remote.reader, 8.0),
    Check("services", "services", remote.services, 5.0),
    Check("server", "server", remote.server, 6.0),
    Check("clock", "clock", local.clock_state, 3.0),
    Check("disk", "disk", local.disk, 2.0),
    Check("store", "store", local.store, 20.0),
    Check("backlog", "backlog", local.backlog, 5.0),
    Check("files", "files", local.files, 2.0),
)
MARK = {OK: "ok  ", WARN: "WARN", FAIL: "FAIL", SKIP: "skip"}


@click.command(
    epilog="""\b
Exit codes (the first class, in this order, with a fault; 0 only when all is well):
  10 settings    11 credential   12 reader/scanner   13 services
  14 server unreachable / TLS    15 credential or requests refused
  16 clock       17 disk         18 store            19 backlog / rejected
  20 files readable by others
"""
)
@config_option
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Database file (overrides store.database).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document (scripts, the fleet).")
@click.option(
    "--only",
    multiple=True,
    type=click.Choice([c.name for c in CHECKS]),
    help="Run only these checks (repeatable).",
)
@click.option(
    "--server-timeout",
    default=2.0,
    show_default=True,
    help="Seconds for each of connect and answer of the server check.",
)
@click.option(
    "--page-url",
    help="The terminal service's page, asked for the reader's state "
    "(default http://127.0.0.1:<web.port>).",
)
@click.option(
    "--synchronised",
    type=click.Choice(["yes", "no"]),
    hidden=True,
    help="Take the clock as synchronised or not instead of asking the kernel (tests).",
)
@click.option(
    "--now",
    "now_text",
    hidden=True,
    help="Pretend the wall clock reads this UTC time, unsynchronised (tests).",
)
def doctor(
    config_path: Path | None,
    db_path: Path | None,
    as_json: bool,
    only: tuple[str, ...],
    server_timeout: float,
    page_url: str | None,
    synchronised: str | None,
    now_text: str | None,
) -> None:
    """Check reader, scanner, services, settings, credential, server, clock, disk, store,
    backlog and file modes; say for each fault what is wrong and what to do. Every check has
    its own timeout: doctor never hangs. While the terminal service runs, the reader is asked
    through the service's local endpoint, never opened."""
    ctx = _context(config_path, db_path, now_text)
    ctx.server_timeout_s = server_timeout
    ctx.local_url = page_url.rstrip("/") if page_url else None
    if synchronised:
        ctx.synchronised = synchronised == "yes"
    # The reader driver logs each failed open; doctor says it once, in its own words.
    logging.getLogger("drivers").setLevel(logging.CRITICAL)
    checks = [c for c in CHECKS if not only or c.name in only]
    started = time.time()
    findings = run(checks, ctx)
    code = exit_code(findings)
    if not only and ctx.config is not None and now_text is None:
        remember(ctx.config, findings, started)  # a full run: the heartbeat reports its class
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": code == 0,
                    "exit_code": code,
                    "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "findings": [f.to_json() for f in findings],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
    else:
        for f in findings:
            click.echo(f"{MARK[f.level]}  {f.what}")
            if f.todo and f.level in (WARN, FAIL):
                click.echo(f"      -> {f.todo}")
        click.echo("all well" if code == 0 else f"faults found (exit {code})")
    sys.stdout.flush()
    sys.exit(code)


def _context(config_path: Path | None, db_path: Path | None, now_text: str | None) -> Context:
    now = None
    if now_text:
        at = datetime.fromisoformat(now_text)
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        now = lambda: at  # noqa: E731
    try:
        config = load_config(config_path, missing_ok=db_path is not None and config_path is None)
    except ConfigError as err:
        return Context(
            None, db_path, config_error=str(err), now=now, synchronised=False if now else None
        )
    return Context(
        config,
        Path(db_path or config["store.database"]),
        now=now,
        synchronised=False if now else None,
    )
