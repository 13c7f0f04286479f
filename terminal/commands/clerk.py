"""`anju clerk owner|list`: the technician's side of the clerk accounts (terminal/desk/clerks.py).

The owner then manages the clerks on the page (工号管理). PINs are read from a prompt (never
an argument: it would stay in the shell history and the process list) or from stdin.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from terminal.commands.context import open_store, reporting, store_options
from terminal.desk.clerks import Accounts


@click.group()
def clerk() -> None:
    """Clerk accounts of the front-desk page (each clerk signs in as themself)."""


def _read_pin(pin_stdin: bool) -> str:
    if pin_stdin:
        return sys.stdin.readline().strip()
    return str(click.prompt("Owner PIN (4-8 digits)", hide_input=True, confirmation_prompt=True))


@clerk.command()
@store_options
@click.argument("staff_no")
@click.option("--name", default="", help="The owner's name as shown on the page.")
@click.option("--pin-stdin", is_flag=True, help="Read the PIN from the first line of stdin.")
def owner(
    config_path: Path | None, db_path: Path | None, staff_no: str, name: str, pin_stdin: bool
) -> None:
    """Create the owner account STAFF_NO, or reset its PIN (a forgotten owner PIN).

    Sign-in on the page is on from then on (within 2 s, no restart)."""
    pin = _read_pin(pin_stdin)
    with reporting(), open_store(config_path, db_path, create=True) as store:
        outcome = Accounts(store).set_owner(staff_no, pin, name=name)
    click.echo(f"owner {staff_no.upper()}: {outcome}")


@clerk.command("list")
@store_options
def list_clerks(config_path: Path | None, db_path: Path | None) -> None:
    """The accounts: staff number, role, active, last change and by whom (no PINs)."""
    with reporting(), open_store(config_path, db_path) as store:
        for c in Accounts(store).list():
            state = "active" if c.active else "disabled"
            click.echo(f"{c.staff_no}\t{c.role}\t{state}\t{c.changed_at}\t{c.changed_by}\t{c.name}")
