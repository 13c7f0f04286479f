"""The signed package repository the terminals update from: a flat apt repository.

    REPO/pool/anju-terminal_0.2.0_arm64.deb   every published version (rollback needs the old)
    REPO/Packages, Packages.gz                 apt-ftparchive packages pool
    REPO/Release                               apt-ftparchive release: SHA-256 of the indexes
    REPO/InRelease, Release.gpg                Release signed with the repository key (gpg)
    REPO/anju-archive-keyring.gpg              the public key, for the technician's install medium

Debian's own tools: `apt-ftparchive` (apt-utils) writes the indexes, `gpg` signs them. apt on
the terminal verifies InRelease against the keyring named by its sources entry (`Signed-By`),
the indexes against Release's hashes and each .deb against the Packages hash: an unsigned or
wrongly signed repository, or a tampered package, is refused before anything is installed
(tests/terminal/test_update_apt.py). The web server beside the central server serves REPO as static
files (deploy/central/nginx-anju-central.conf, `location /anju-repo/`); docs/updates.md.

Publishing replaces the index files one by one (temp file, rename): a terminal that reads
between two renames gets a hash mismatch, refuses, and tries again at its next run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from central.errors import AdminError

KEYRING = "anju-archive-keyring.gpg"


def _run(argv: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
         ) -> bytes:
    try:
        done = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, check=False,
                              timeout=600)
    except FileNotFoundError as err:
        raise AdminError(f"{argv[0]} is not installed (apt-get install apt-utils gpg)",
                         code="tool_missing") from err
    if done.returncode != 0:
        raise AdminError(f"{argv[0]} failed: {done.stderr.decode(errors='replace')[-500:]}",
                         code="publish_failed")
    return done.stdout


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def publish(repo: Path, debs: Sequence[Path], key: str, *, gnupg_home: Path | None = None
            ) -> list[str]:
    """Copy `debs` into the pool, rewrite and sign the indexes; the package file names listed."""
    pool = repo / "pool"
    pool.mkdir(parents=True, exist_ok=True)
    for deb in debs:
        if deb.suffix != ".deb" or not deb.is_file():
            raise AdminError(f"not a package file: {deb}", code="invalid_parameter")
        shutil.copyfile(deb, pool / deb.name)
    env = {**os.environ, **({"GNUPGHOME": str(gnupg_home)} if gnupg_home else {})}
    packages = _run(["apt-ftparchive", "packages", "pool"], cwd=repo)
    _write(repo / "Packages", packages)
    _run(["gzip", "-9nkf", "Packages"], cwd=repo)
    release = _run(["apt-ftparchive", "-o", "APT::FTPArchive::Release::Origin=Anju",
                    "-o", "APT::FTPArchive::Release::Label=Anju terminals",
                    "-o", "APT::FTPArchive::Release::Suite=anju", "release", "."], cwd=repo)
    _write(repo / "Release", release)
    sign = ["gpg", "--batch", "--yes", "--local-user", key, "--digest-algo", "SHA512"]
    _write(repo / "InRelease", _run([*sign, "--clearsign", "-o", "-", "Release"], cwd=repo,
                                    env=env))
    _write(repo / "Release.gpg", _run([*sign, "--detach-sign", "-o", "-", "Release"], cwd=repo,
                                      env=env))
    _write(repo / KEYRING, export_key(key, gnupg_home=gnupg_home))
    return sorted(p.name for p in pool.glob("*.deb"))


def export_key(key: str, *, gnupg_home: Path | None = None) -> bytes:
    """The public key as a binary keyring, what apt's `Signed-By` names."""
    env = {**os.environ, **({"GNUPGHOME": str(gnupg_home)} if gnupg_home else {})}
    data = _run(["gpg", "--batch", "--export", key], env=env)
    if not data:
        raise AdminError(f"no public key {key!r} in the keyring", code="not_found")
    return data
