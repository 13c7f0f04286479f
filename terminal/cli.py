"""`anju`: the one command-line entry point (technicians, support, scripted installs).

Each group lives in its own module under `terminal/commands/`; this file only assembles them.
Messages are English unless a Chinese locale is set (terminal/commands/language.py).
"""

from __future__ import annotations

import importlib
import logging
import sys

import click

from terminal.version import DISTRIBUTION

# name -> ("module:attribute", short help). Imported only when the command runs, so `anju --help`
# and `anju card read` load neither the store nor the central server (SQLAlchemy is not even
# installed on a terminal). tests/terminal/test_cli_lazy.py checks each short help against the
# command's own docstring, so this table cannot drift from the commands.
_GROUPS: dict[str, tuple[str, str]] = {
    "card": (
        "terminal.commands.card:card",
        "Read Chinese ID cards from a reader (GA 467 SAM protocol).",
    ),
    "central": ("central.cli.main:central", "Central server: ingest, enrolment, fleet."),
    "clerk": (
        "terminal.commands.clerk:clerk",
        "Clerk accounts of the front-desk page (each clerk signs in as themself).",
    ),
    "config": ("terminal.commands.terminal_cmd:config_group", "The terminal's settings."),
    "doctor": (
        "terminal.commands.doctor:doctor",
        "Check reader, scanner, services, settings, credential, server, clock, disk, store, "
        "backlog and file modes; say for each fault what is wrong and what to do.",
    ),
    "demo": (
        "terminal.commands.demo:demo",
        "Central server, provisioned terminal with a simulated reader, page and uploader.",
    ),
    "provision": (
        "terminal.commands.provision:provision",
        "Check settings, server (TLS), enrolment, clock, reader, disk and a signed heartbeat; "
        "only then write the credential (0600) and the settings.",
    ),
    "scan": (
        "terminal.commands.scan:scan",
        "Barcode scanners, document readers (MRZ) and image decoding.",
    ),
    "handover": (
        "terminal.commands.handover:handover",
        "Move a replaced terminal's undelivered registrations to its replacement.",
    ),
    "faults": (
        "terminal.commands.faults:faults_group",
        "Services that kept failing (recorded by systemd's OnFailure= handler).",
    ),
    "sim": (
        "terminal.commands.sim:sim",
        "Device simulators (shipped for the demo, the tests and the bench).",
    ),
    "stays": ("terminal.commands.stays:stays", "Registrations on this terminal."),
    "store": (
        "terminal.commands.store:store",
        "The registry database: create, upgrade, check, purge.",
    ),
    "sync": ("terminal.commands.sync:sync", "Send registrations to the central server."),
    "terminal": (
        "terminal.commands.terminal_cmd:terminal",
        "The front-desk service (reader, store, page).",
    ),
    "update": (
        "terminal.commands.update:update",
        "Software updates from the central side: signed packages, health gate, rollback.",
    ),
    "wipe": (
        "terminal.commands.handover:wipe",
        "Decommission: revoke this device, then erase its registrations and credential.",
    ),
}
# Which Debian package brings a group whose dependencies are missing here.
_PACKAGE_OF = {"central": "anju-central", "demo": "anju-central"}


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_GROUPS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = _GROUPS.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute = entry[0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            package = _PACKAGE_OF.get(cmd_name, "anju-terminal")
            raise click.UsageError(
                f"`anju {cmd_name}` needs {err.name}, which is not installed here "
                f"(it comes with the {package} package)",
                ctx,
            ) from err
        return getattr(module, attribute)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the table: listing must not import every group."""
        limit = formatter.width - 6 - max(len(name) for name in _GROUPS)
        rows = [(name, _shorten(entry[1], limit)) for name, entry in sorted(_GROUPS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _shorten(text: str, limit: int) -> str:
    """Cut at a word boundary, as click shortens a command's help in the list."""
    if len(text) <= limit:
        return text
    return text[: limit - 3].rsplit(" ", 1)[0].rstrip(" ,;:") + "..."


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name=DISTRIBUTION, prog_name="anju", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """Anju guest-registration terminal."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def main() -> None:
    try:
        cli(prog_name="anju")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
