"""`anju central ...`: run the server and administer sites, tokens and devices.

Every command takes `--db URL` (default: $ANJU_CENTRAL_DB, else SQLite in ./var/central.db);
URLs are `sqlite:///path/central.db` or `postgresql+psycopg://user@host:5432/db`. Each says
which database it uses (stderr); none creates the default SQLite file silently (`migrate` or
an explicit URL does, and says so).
"""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import click

from central.cli.lazy import LazyGroup

# Named, not imported (central/cli/lazy.py): a command loads its own modules only when it runs.
COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("central.cli.accounts:audit",
              "The audit log of searches, views, exports and account changes."),
    "devices": ("central.cli.devices:devices", "Enrolled devices."),
    "faults": ("central.cli.devices:faults",
               "Sequence gaps and chain breaks recorded on ingest (device, sequence range)."),
    "feed": ("central.cli.feed:feed",
             "The change feed: stays and their changes in commit order, for police systems."),
    "migrate": ("central.cli.server:migrate_command", "Create or upgrade the database schema."),
    "purge": ("central.cli.retention:purge",
              "Remove stays older than the retention, with their guests, events (photos), feed "
              "records, refused events and day reports: month partitions dropped on PostgreSQL, "
              "rows deleted on SQLite; heartbeats older than their own retention (each "
              "terminal's latest kept); expired login sessions."),
    "repo": ("central.cli.updates:repo", "The signed package repository the terminals update "
             "from (apt-ftparchive, gpg)."),
    "rollout": ("central.cli.updates:rollout",
                "Software rollouts to the terminals: set, status, list, cancel."),
    "serve": ("central.cli.server:serve", "Run the HTTP server (migrates the database first)."),
    "site": ("central.cli.devices:site", "Guesthouses (sites)."),
    "token": ("central.cli.devices:token", "One-time enrolment tokens."),
    "user": ("central.cli.accounts:user", "Police users (officer, supervisor, technician, "
             "administrator) and their API tokens."),
}

# On a terminal (no anju-central package) every central command would fail on its first import:
# say so at once, as the terminal's CLI does for a group it cannot load (it names the package).
if importlib.util.find_spec("sqlalchemy") is None:
    raise ModuleNotFoundError("No module named 'sqlalchemy'", name="sqlalchemy")


class CentralGroup(LazyGroup):
    """A database that does not answer in time ends any command with a clear error, exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as err:
            # A command that never loaded SQLAlchemy (feed pull) cannot have raised its errors.
            loaded = sys.modules.get("sqlalchemy.exc")
            if loaded is None or not isinstance(err, loaded.SQLAlchemyError):
                raise
            from central.db.failures import is_unavailable, unavailable

            if not is_unavailable(err):
                raise
            raise click.ClickException(unavailable(err, 0).message.replace(
                "retry later", "is it running and reachable? (--db)")) from err


@click.group(cls=CentralGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
def central() -> None:
    """Central server: ingest, enrolment, fleet."""
