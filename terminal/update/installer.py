"""Installing a version of the package: apt from the signed repository, and nothing else.

The repository is named in one sources file (update.sources_file, one line, written by
`anju update configure`): `deb [signed-by=/etc/apt/keyrings/anju-archive-keyring.gpg] URL ./`.
Every apt call here reads only that file (`Dir::Etc::SourceList`, no sources.list.d), so an offline
Debian mirror entry cannot fail the update and no other source can supply the package. apt
checks the InRelease signature against the keyring, the index against Release and the .deb
against the index: an unsigned, wrongly signed or tampered publication is refused before dpkg
sees it (RefusedError, with apt's own words). A package fetched once is kept in
`<state_dir>/kept/`, so a rollback works without the repository.

`Installer` is the interface the updater drives; tests drive the updater with a fake that
records what it was told, and this class against a real signed repository
(tests/update/test_apt_repo.py) and in a Debian root filesystem (deploy/test/update_test.py).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from sync.update_messages import VERSION_RE
from terminal.update.errors import InstallError, RefusedError

PACKAGE = "anju-terminal"
# apt's words for a publication it does not trust (signature, hashes)
_REFUSAL = re.compile(r"NO_PUBKEY|BADSIG|is not signed|signatures couldn't be verified|"
                      r"Hash Sum mismatch|hashes do not match|Signed-By|not signed|EXPKEYSIG|"
                      r"invalid signature|File has unexpected size|Bad signature")
KEEP = 3  # kept packages (the running one and the ones before it)


class Installer(Protocol):
    def installed_version(self) -> str | None: ...

    def fetch(self, version: str) -> None:
        """Download and verify `version` (RefusedError / InstallError); installs nothing."""

    def install(self, version: str, *, downgrade: bool = False) -> None:
        """Install `version` (fetched before, or kept); InstallError on failure."""

    def keep(self, version: str) -> None:
        """Keep the installed version's package for a later rollback."""


def sources_line(url: str, keyring: Path) -> str:
    return f"deb [signed-by={keyring}] {url.rstrip('/')}/ ./\n"


class AptInstaller:
    def __init__(self, sources_file: Path, state_dir: Path, *, extra: Sequence[str] = (),
                 archives: Path = Path("/var/cache/apt/archives"),
                 timeout_s: float = 1800) -> None:
        self.sources_file = sources_file
        self.kept = state_dir / "kept"
        self.archives = archives
        self.timeout_s = timeout_s
        self.options = ["-o", f"Dir::Etc::SourceList={sources_file}",
                        "-o", "Dir::Etc::SourceParts=/dev/null",
                        "-o", "APT::Get::List-Cleanup=0",
                        "-o", "DPkg::Lock::Timeout=120", *extra]

    def _run(self, argv: Sequence[str]) -> str:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
        try:
            done = subprocess.run(list(argv), capture_output=True, text=True, env=env,
                                  timeout=self.timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise InstallError(f"{argv[0]}: {type(err).__name__}: {err}") from err
        output = done.stdout + done.stderr
        complaints = [line for line in output.splitlines()
                      if line.startswith(("E:", "W:", "Err:", "dpkg:"))]
        if done.returncode != 0 or any(_REFUSAL.search(c) for c in complaints):
            detail = " ".join(complaints)[-280:] or output.strip()[-280:]
            error = RefusedError if any(_REFUSAL.search(c) for c in complaints) else InstallError
            raise error(f"{' '.join(argv[:2])}: {detail}")
        return output

    def installed_version(self) -> str | None:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", PACKAGE],
                              capture_output=True, text=True, check=False)
        fields = done.stdout.split()
        if done.returncode != 0 or fields[:3] != ["install", "ok", "installed"]:
            return None
        return fields[3] if len(fields) > 3 else None

    def refresh(self) -> None:
        """`apt-get update` of the repository alone: RefusedError if it does not verify."""
        self._run(["apt-get", "update", "-q", *self.options])

    def fetch(self, version: str) -> None:
        _check(version)
        self.refresh()
        self._run(["apt-get", "install", "-q", "-y", "--download-only", "--allow-downgrades",
                   "--no-install-recommends", *self.options, f"{PACKAGE}={version}"])

    def install(self, version: str, *, downgrade: bool = False) -> None:
        _check(version)
        common = ["apt-get", "install", "-q", "-y", "--no-install-recommends",
                  "-o", "Dpkg::Options::=--force-confold", *self.options]
        if downgrade:
            common.append("--allow-downgrades")
        try:
            self._run([*common, f"{PACKAGE}={version}"])
        except InstallError:
            kept = sorted(self.kept.glob(f"{PACKAGE}_{version}_*.deb"))
            if not kept:
                raise
            self._run([*common, str(kept[-1])])  # verified when it was fetched

    def keep(self, version: str) -> None:
        _check(version)
        cached = sorted(self.archives.glob(
            f"{PACKAGE}_{version.replace(':', '%3a')}_*.deb"))
        if not cached:
            return
        self.kept.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached[-1], self.kept / cached[-1].name)
        for old in sorted(self.kept.glob(f"{PACKAGE}_*.deb"),
                          key=lambda p: p.stat().st_mtime)[:-KEEP]:
            old.unlink()


def _check(version: str) -> None:
    if not VERSION_RE.match(version):  # never reaches a command line unchecked
        raise InstallError(f"not a package version: {version!r}")
