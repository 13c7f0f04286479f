"""The real apt against a real signed repository: `anju central repo publish` (apt-ftparchive +
gpg) serves small anju-terminal packages over HTTP, and the updater's AptInstaller fetches
through apt-get with its own state folders (nothing of this machine's apt is touched). A
tampered package, a repository signed by another key and an unsigned one are refused with
apt's words, before anything could be installed. (Installing: deploy/test/update_test.py.)"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.devices.package_repo import KEYRING, publish
from terminal.update.errors import RefusedError
from terminal.update.installer import AptInstaller, sources_line

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("apt-get", "apt-ftparchive", "gpg", "dpkg-deb")),
    reason="needs apt-get, apt-ftparchive (apt-utils), gpg and dpkg-deb")


def gpg_home(name: str) -> tuple[Path, str]:
    """A fresh keyring with one ed25519 signing key (short path: gpg-agent's socket)."""
    home = Path(tempfile.mkdtemp(prefix="g", dir="/tmp"))
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpg", "--batch", "--passphrase", "", "--quick-gen-key",
                    f"{name} <{name}@anju.invalid>", "ed25519", "sign", "never"],
                   env=env, check=True, capture_output=True)
    listing = subprocess.run(["gpg", "--batch", "--with-colons", "--list-keys"], env=env,
                             check=True, capture_output=True, text=True).stdout
    fingerprint = next(line.split(":")[9] for line in listing.splitlines()
                       if line.startswith("fpr:"))
    return home, fingerprint


@pytest.fixture(scope="module")
def keys() -> Iterator[dict[str, tuple[Path, str]]]:
    made = {"ours": gpg_home("anju-repo"), "other": gpg_home("someone-else")}
    yield made
    for home, _fpr in made.values():
        subprocess.run(["gpgconf", "--kill", "all"], env={**os.environ, "GNUPGHOME": str(home)},
                       check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


def package(folder: Path, version: str) -> Path:
    """A small anju-terminal package (one file), as dpkg-deb builds it."""
    stage = folder / f"stage-{version}"
    (stage / "DEBIAN").mkdir(parents=True)
    (stage / "opt/anju").mkdir(parents=True)
    (stage / "opt/anju/VERSION").write_text(version + "\n" + "x" * 4096)
    (stage / "DEBIAN/control").write_text(
        f"Package: anju-terminal\nVersion: {version}\nArchitecture: all\n"
        "Maintainer: Anju developers <developers@anju.example.com>\n"
        "Description: test package\n test package for the updater's apt test\n")
    deb = folder / f"anju-terminal_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(stage), str(deb)],
                   check=True, capture_output=True)
    return deb


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    repo = tmp_path / "repo"
    repo.mkdir()
    handler = functools.partial(_Quiet, directory=str(repo))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield repo, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def terminal_apt(tmp_path: Path, url: str, keyring: Path) -> AptInstaller:
    """The updater's apt with private state: lists, cache and an empty dpkg status."""
    root = tmp_path / "apt"
    for sub in ("lists/partial", "archives/partial", "etc"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "status").write_text("")
    sources = root / "etc/anju.list"
    sources.write_text(sources_line(url, keyring))
    return AptInstaller(sources, tmp_path / "state", archives=root / "archives", extra=[
        "-o", f"Dir::State::Lists={root / 'lists'}", "-o", f"Dir::State::status={root / 'status'}",
        "-o", f"Dir::Cache={root}", "-o", f"Dir::Cache::archives={root / 'archives'}",
        "-o", "Dir::Etc::Preferences=/dev/null", "-o", "Dir::Etc::PreferencesParts=/dev/null",
        "-o", "APT::Sandbox::User=root", "-o", "Debug::NoLocking=1"])


def test_signed_repository_is_fetched_and_the_package_kept(
        tmp_path: Path, served: tuple[Path, str], keys: dict[str, tuple[Path, str]]) -> None:
    repo, url = served
    home, fpr = keys["ours"]
    names = publish(repo, [package(tmp_path, "0.1.0"), package(tmp_path, "0.2.0")], fpr,
                    gnupg_home=home)
    assert names == ["anju-terminal_0.1.0_all.deb", "anju-terminal_0.2.0_all.deb"]
    assert {"InRelease", "Release", "Release.gpg", "Packages", "Packages.gz", KEYRING} <= {
        p.name for p in repo.iterdir()}
    apt = terminal_apt(tmp_path, url, repo / KEYRING)
    apt.fetch("0.2.0")
    assert (apt.archives / "anju-terminal_0.2.0_all.deb").exists()
    apt.keep("0.2.0")
    assert (apt.kept / "anju-terminal_0.2.0_all.deb").exists()
    apt.fetch("0.1.0")  # the previous version stays available for a rollback


def test_a_tampered_package_is_refused(tmp_path: Path, served: tuple[Path, str],
                                       keys: dict[str, tuple[Path, str]]) -> None:
    repo, url = served
    home, fpr = keys["ours"]
    publish(repo, [package(tmp_path, "0.2.0")], fpr, gnupg_home=home)
    deb = repo / "pool/anju-terminal_0.2.0_all.deb"
    data = bytearray(deb.read_bytes())
    data[-100] ^= 0xFF  # same size, one byte changed after signing
    deb.write_bytes(bytes(data))
    apt = terminal_apt(tmp_path, url, repo / KEYRING)
    with pytest.raises(RefusedError, match=r"Hash Sum mismatch|hashes do not match"):
        apt.fetch("0.2.0")
    assert not list(apt.archives.glob("*.deb"))


def test_a_repository_signed_by_another_key_is_refused(
        tmp_path: Path, served: tuple[Path, str], keys: dict[str, tuple[Path, str]]) -> None:
    repo, url = served
    ours = tmp_path / "ours.gpg"
    home, fpr = keys["ours"]
    deb = package(tmp_path, "0.2.0")
    publish(repo, [deb], fpr, gnupg_home=home)
    ours.write_bytes((repo / KEYRING).read_bytes())
    other_home, other_fpr = keys["other"]
    publish(repo, [deb], other_fpr, gnupg_home=other_home)  # someone else re-signed it
    apt = terminal_apt(tmp_path, url, ours)
    with pytest.raises(RefusedError, match=r"NO_PUBKEY|not signed|couldn't be verified"):
        apt.fetch("0.2.0")
    assert not list(apt.archives.glob("*.deb"))


def test_an_unsigned_repository_is_refused(tmp_path: Path, served: tuple[Path, str],
                                           keys: dict[str, tuple[Path, str]]) -> None:
    repo, url = served
    home, fpr = keys["ours"]
    publish(repo, [package(tmp_path, "0.2.0")], fpr, gnupg_home=home)
    (repo / "InRelease").unlink()
    (repo / "Release.gpg").unlink()
    apt = terminal_apt(tmp_path, url, repo / KEYRING)
    with pytest.raises(RefusedError, match="is not signed"):
        apt.refresh()
