"""`anju central rollout ...` and `anju central repo ...`: publish signed packages and decide
which terminals run which version (listed in the `central` group by main.py; docs/updates.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from central.cli.context import DB_OPTION, admin_engine, parse_ttl, print_table
from central.errors import CentralError


@click.group()
def rollout() -> None:
    """Software rollouts to the terminals: set, status, list, cancel.

    Each `set` and `cancel` is written to the audit log as done by `cli:<your login>`. The
    newest active rollout that matches a device decides its version; terminals learn it from
    their heartbeat answer and install it in their slot of the spread (docs/updates.md)."""


def _parse_spread(value: str) -> int:
    return int(parse_ttl(value, "--spread").total_seconds())


@rollout.command("set")
@DB_OPTION
@click.argument("version")
@click.option("--all", "everyone", is_flag=True, help="Every device.")
@click.option("--district", "districts", multiple=True, help="Devices of this district "
              "(repeatable).")
@click.option("--site", "sites", multiple=True, help="Devices of this site code (repeatable).")
@click.option("--percent", type=click.IntRange(1, 100), default=None,
              help="This share of the fleet (a stable choice: 10 then 50 keeps the first 10).")
@click.option("--spread", default="1h", show_default=True,
              help="Spread the devices' slots over this long (0s: at once): 30m, 6h, 2d.")
def rollout_set(db_url: str, version: str, everyone: bool, districts: tuple[str, ...],
                sites: tuple[str, ...], percent: int | None, spread: str) -> None:
    """Order VERSION (a version published in the repository) for a set of devices."""
    from central import rollout as rollouts
    from central.accounts.admin import operator

    chosen = [name for name, given in (("all", everyone), ("district", districts),
                                       ("sites", sites), ("percent", percent)) if given]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --all, --district, --site, --percent")
    scope = chosen[0]
    with admin_engine(db_url) as engine:
        try:
            made = rollouts.set_rollout(engine, version, scope, districts or sites, percent,
                                        _parse_spread(spread), by=operator())
        except CentralError as err:
            raise click.ClickException(err.message) from err
    click.echo(f"rollout {made.id}: {made.version} to {made.describe()}, "
               f"spread over {made.spread_s} s from {made.created_at}")


@rollout.command("cancel")
@DB_OPTION
@click.argument("rollout_id", type=int)
def rollout_cancel(db_url: str, rollout_id: int) -> None:
    """Stop ordering a rollout's version (updated devices keep it; set an older one to undo)."""
    from central import rollout as rollouts
    from central.accounts.admin import operator

    with admin_engine(db_url) as engine:
        try:
            rollouts.cancel(engine, rollout_id, by=operator())
        except CentralError as err:
            raise click.ClickException(err.message) from err
    click.echo(f"rollout {rollout_id} cancelled")


@rollout.command("list")
@DB_OPTION
def rollout_list(db_url: str) -> None:
    """Every rollout, newest first."""
    from central import rollout as rollouts

    with admin_engine(db_url) as engine:
        rows = [{"id": r.id, "version": r.version, "to": r.describe(), "spread_s": r.spread_s,
                 "created_at": r.created_at, "created_by": r.created_by,
                 "cancelled_at": r.cancelled_at} for r in rollouts.all_rollouts(engine)]
    print_table(rows, ("id", "version", "to", "spread_s", "created_at", "created_by",
                       "cancelled_at"))


@rollout.command("status")
@DB_OPTION
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
def rollout_status(db_url: str, as_json: bool) -> None:
    """Each active rollout's progress: targeted, updated, pending, rolled back, failed."""
    from central import rollout as rollouts

    with admin_engine(db_url) as engine:
        items = rollouts.progress_json(rollouts.progress(engine))
    if as_json:
        click.echo(json.dumps(items, ensure_ascii=False, indent=1))
        return
    if not items:
        click.echo("no active rollout")
    for p in items:
        click.echo(f"rollout {p['rollout_id']}: {p['version']} to {p['scope']}: "
                   f"{p['updated']}/{p['targeted']} updated, {p['pending']} pending, "
                   f"{len(p['rolled_back'])} rolled back, {len(p['failed'])} failed")
        for kind in ("rolled_back", "failed"):
            for d in p[kind]:
                click.echo(f"  {kind.replace('_', ' ')}: {d['device_id']} (site "
                           f"{d['site_code']}, runs {d['running']}): {d['detail']}")


@click.group()
def repo() -> None:
    """The signed package repository the terminals update from (apt-ftparchive, gpg)."""


@repo.command("publish")
@click.option("--repo", "repo_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="The repository folder the web server serves.")
@click.option("--key", required=True, help="The signing key's id or fingerprint (gpg).")
@click.option("--gnupghome", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="gpg's home with the secret key (default: $GNUPGHOME or ~/.gnupg).")
@click.argument("debs", nargs=-1, required=True,
                type=click.Path(dir_okay=False, exists=True, path_type=Path))
def repo_publish(repo_dir: Path, key: str, gnupghome: Path | None, debs: tuple[Path, ...]
                 ) -> None:
    """Add packages to the repository and sign its indexes anew."""
    from central.devices import package_repo as packages

    try:
        names = packages.publish(repo_dir, debs, key, gnupg_home=gnupghome)
    except CentralError as err:
        raise click.ClickException(err.message) from err
    click.echo(f"{repo_dir}: {len(names)} packages, signed by {key}")
    for name in names:
        click.echo(f"  {name}")
