"""`anju update ...`: the terminal's updater (as root) and where it gets its packages."""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from sync.atomic_file import write_atomic
from terminal.commands.options import config_option
from terminal.config import load_config
from terminal.errors import ConfigError

# Debian's place for a repository's own key; readable by apt's sandbox user _apt, which
# verifies the signature (a key in /etc/anju, 0750 root:anju, would not be: NO_PUBKEY).
KEYRING = Path("/etc/apt/keyrings/anju-archive-keyring.gpg")


@click.group()
def update() -> None:
    """Software updates from the central side: signed packages, health gate, rollback."""


def _config(config_path: Path | None) -> object:
    try:
        return load_config(config_path)
    except ConfigError as err:
        raise click.ClickException(str(err)) from err


@update.command("run")
@config_option
def run(config_path: Path | None) -> None:
    """One pass of the updater (anju-update.service runs it as root): install the ordered
    version in this terminal's slot and window when no registration is open, run the health
    gate, roll back by itself if it fails. Exit 0 whatever the outcome (it is reported)."""
    from zoneinfo import ZoneInfo

    from terminal.update.installer import AptInstaller
    from terminal.update.probes import SystemProbes, in_window
    from terminal.update.updater import Policy, Updater

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    config = _config(config_path)
    if os.geteuid() != 0:
        raise click.ClickException("the updater installs packages: run it as root "
                                   "(systemctl start anju-update)")
    state_dir: Path = config["update.state_dir"]  # type: ignore[index]
    installer = AptInstaller(config["update.sources_file"], state_dir)  # type: ignore[index]
    if not installer.sources_file.exists():
        click.echo(f"no repository configured ({installer.sources_file}): "
                   "anju update configure --repo URL --keyring FILE", err=True)
        return
    probes = SystemProbes(config["web.port"], config["sync.state_file"],  # type: ignore[index]
                          installer.installed_version)
    zone = ZoneInfo(config["registry.timezone"])  # type: ignore[index]
    window = config["update.window"]  # type: ignore[index]
    updater = Updater(
        state_dir / "state.json", config["update.order_file"], installer, probes,  # type: ignore[index]
        in_window=lambda now: in_window(window, datetime.fromtimestamp(now, UTC), zone),
        policy=Policy(float(config["update.gate_timeout_s"]),  # type: ignore[index]
                      int(config["update.max_restarts"])))  # type: ignore[index]
    decision = updater.run_once()
    report = updater.state.report
    click.echo(f"{decision.action}: {decision.reason}"
               + (f"; last outcome: {report.state} {report.version}"
                  + (f" ({report.detail})" if report.detail else "") if report else ""))


@update.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="JSON instead of text.")
def status(config_path: Path | None, as_json: bool) -> None:
    """The order from the central server and the updater's phase and last outcome."""
    from terminal.update.order import read_order
    from terminal.update.state import UpdaterState
    from terminal.version import package_version

    config = _config(config_path)
    order = read_order(config["update.order_file"])  # type: ignore[index]
    state = UpdaterState.load(config["update.state_dir"] / "state.json")  # type: ignore[index]
    doc = {"running": package_version(),
           "order": None if order is None else {
               "version": order.version, "rollout_id": order.rollout_id,
               "slot_in_s": max(0, round(order.due_at - time.time()))},
           "phase": state.phase, "rolled_back_from": list(state.failed),
           "last": state.report.to_json() if state.report else None}
    if as_json:
        click.echo(json.dumps(doc, ensure_ascii=False))
        return
    click.echo(f"running   {doc['running']}")
    click.echo("order     " + ("none" if order is None else
                               f"{order.version} (rollout {order.rollout_id}, slot in "
                               f"{doc['order']['slot_in_s']} s)"))  # type: ignore[index]
    click.echo(f"phase     {state.phase}")
    if state.report:
        r = state.report
        click.echo(f"last      {r.state} {r.version} (from {r.previous}) at {r.at}"
                   + (f": {r.detail}" if r.detail else ""))
    if state.failed:
        click.echo(f"refused   {', '.join(state.failed)} (rolled back here; not tried again)")


@update.command("configure")
@config_option
@click.option("--repo", "url", required=True,
              help="The signed repository's URL, e.g. https://central.example/anju-repo/.")
@click.option("--keyring", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              required=True, help="The repository's public key (anju-archive-keyring.gpg), "
              "from the install medium: never from the network.")
@click.option("--keyring-dest", type=click.Path(dir_okay=False, path_type=Path),
              default=KEYRING, show_default=True, help="Where the key is installed.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="Fetch the repository's index once and verify its signature.")
def configure(config_path: Path | None, url: str, keyring: Path, keyring_dest: Path,
              check: bool) -> None:
    """Name the signed repository and install its key (as root, at installation)."""
    from terminal.update.errors import UpdateError
    from terminal.update.installer import AptInstaller, sources_line

    if not url.startswith(("https://", "http://")) or any(c.isspace() for c in url):
        raise click.BadParameter("an http(s) URL without spaces", param_hint="--repo")
    config = _config(config_path)
    sources: Path = config["update.sources_file"]  # type: ignore[index]
    keyring_dest.parent.mkdir(parents=True, exist_ok=True)
    if keyring.resolve() != keyring_dest.resolve():
        write_atomic(keyring_dest, keyring.read_bytes(), mode=0o644)
    sources.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(sources, sources_line(url, keyring_dest).encode(), mode=0o644)
    click.echo(f"repository {url} in {sources}, key {keyring_dest}")
    if check:
        if shutil.which("apt-get") is None:
            raise click.ClickException("apt-get not found: not a Debian system")
        installer = AptInstaller(sources, config["update.state_dir"])  # type: ignore[index]
        try:
            installer.refresh()
        except UpdateError as err:
            raise click.ClickException(f"the repository does not verify: {err}") from err
        click.echo("✓ the repository's index is signed by that key")
