"""The commented settings file the Debian package installs as /etc/anju/terminal.toml.

Generated from the settings table (terminal/config.py), so it never lists a setting that does
not exist nor misses one. Every setting is commented out with its default: the file as
installed means "all defaults", and `anju provision` adds the identity and the server's URL
to the tables that are already there (terminal/system/settings_file.py keeps these comments).
"""

from __future__ import annotations

import textwrap

import tomlkit

from terminal.config import SETTINGS, Setting

HEADER = """\
# Anju front-desk terminal: settings (TOML). Installed by the anju-terminal package; yours to
# edit: upgrades never overwrite it, `apt purge anju-terminal` deletes it.
#
# `sudo anju provision --server URL --token TOKEN` fills in [device] and sync.server_url.
# Every other setting is shown below with its default, commented out: remove the "# " in front
# of a line to change it, then `sudo systemctl restart anju-terminal anju-sync`.
# `anju config show` prints the values in force; the reference is docs/configuration.md
# (/opt/anju/docs/configuration.md on the terminal). Keep this file 0640 root:anju.
"""


def render() -> str:
    """The template's text: sections in the table's order, each setting with its help."""
    lines = [HEADER.rstrip("\n")]
    tables: dict[str, list[Setting]] = {}  # a table once, in the order it first appears
    for setting in SETTINGS:
        tables.setdefault(setting.name.partition(".")[0], []).append(setting)
    for table, settings in tables.items():
        lines += ["", f"[{table}]"]
        for setting in settings:
            key = setting.name.partition(".")[2]
            lines += ["#" + (" " + part if part else "") for part in _wrapped(setting.help)]
            if setting.default is None:
                lines.append(f"# {key} = (set by anju provision)")
            else:
                lines.append(f"# {key} = {tomlkit.item(setting.default).as_string()}")
    return "\n".join(lines) + "\n"


def _wrapped(text: str) -> list[str]:
    return textwrap.wrap(text, width=96)
