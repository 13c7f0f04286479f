"""The software's version: one place, the package metadata (pyproject.toml `version`).

The Debian package, `anju --version` and the heartbeat all read it from there, so a release
changes one line.
"""

from __future__ import annotations

DISTRIBUTION = "anju"


def package_version() -> str:
    """The installed distribution's version; "0+unknown" when run from a bare source tree."""
    # imported here: importlib.metadata costs ~20 ms, and `anju --help` does not need it
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "0+unknown"


def software_version() -> str:
    """What the heartbeat and enrolment report to the central server (its fleet page)."""
    return f"anju-terminal/{package_version()}"
