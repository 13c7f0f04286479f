"""`anju faults record|show|clear`: services systemd gave up on
(terminal/system/service_faults.py).

`record` is what anju-failure@.service runs (systemd/): its options default to the environment
systemd gives an OnFailure= unit, and the directory to the unit's $STATE_DIRECTORY.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from terminal.system import service_faults

_DIR = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="STATE_DIRECTORY",
    default="/var/lib/anju",
    show_default=True,
    help="State directory holding the record ($STATE_DIRECTORY under systemd).",
)


@click.group("faults")
def faults_group() -> None:
    """Services that kept failing (recorded by systemd's OnFailure= handler)."""


@faults_group.command("record")
@_DIR
@click.option("--unit", envvar="MONITOR_UNIT", required=True, help="The failed unit.")
@click.option("--result", envvar="MONITOR_SERVICE_RESULT", help="systemd's service result.")
@click.option("--exit-code", envvar="MONITOR_EXIT_CODE", help="exited | killed | dumped.")
@click.option("--exit-status", envvar="MONITOR_EXIT_STATUS", help="Exit status or signal.")
@click.option(
    "--invocation-id",
    envvar="MONITOR_INVOCATION_ID",
    help="The failed run's invocation id (journalctl _SYSTEMD_INVOCATION_ID=...).",
)
def record(
    directory: Path,
    unit: str,
    result: str | None,
    exit_code: str | None,
    exit_status: str | None,
    invocation_id: str | None,
) -> None:
    """Record that UNIT failed (run by anju-failure@.service)."""
    fault = service_faults.Fault(
        unit=unit,
        at=service_faults.now_utc(),
        result=result or None,
        exit_code=exit_code or None,
        exit_status=exit_status or None,
        invocation_id=invocation_id or None,
    )
    doc = service_faults.record(directory, fault)
    count = doc["units"][unit]["count"]
    click.echo(
        f"recorded: {unit} failed ({fault.result or 'unknown result'}), "
        f"{count} time{'s' if count != 1 else ''} so far"
    )


@faults_group.command("show")
@_DIR
@click.option("--json", "as_json", is_flag=True, help="The record as one JSON document.")
def show(directory: Path, as_json: bool) -> None:
    """Each unit's failures: how many, first and last, the last result."""
    doc = service_faults.load(directory)
    if as_json:
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
        return
    if not doc["units"]:
        click.echo("no service faults recorded")
        return
    for unit, entry in sorted(doc["units"].items()):
        last = entry.get("last") or {}
        detail = "/".join(str(v) for v in (last.get("exit_code"), last.get("exit_status")) if v)
        click.echo(
            f"{unit}: failed {entry.get('count')} times, first {entry.get('first_at')}, "
            f"last {entry.get('last_at')} ({last.get('result') or 'unknown'}"
            f"{', ' + detail if detail else ''})"
        )


@faults_group.command("clear")
@_DIR
def clear(directory: Path) -> None:
    """Forget the recorded faults (once dealt with)."""
    click.echo("cleared" if service_faults.clear(directory) else "nothing to clear")
