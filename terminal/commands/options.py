"""Options every command that reads the settings takes the same way (no store import here:
`anju update` runs as root and never opens the store)."""

from __future__ import annotations

from pathlib import Path

import click

from terminal.config import ENV_VAR

# The settings file, also from $ANJU_CONFIG.
config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
    envvar=ENV_VAR, show_envvar=True, help="Settings file (default /etc/anju/terminal.toml).")
