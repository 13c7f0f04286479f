"""Build the Debian packages: `python deploy/build_deb.py --arch arm64 [--package anju-central]`.

A scripted `dpkg-deb` build, the same on amd64 and arm64 and runnable on an amd64 machine for
either: the private environment /opt/anju/venv is assembled without running the target's
Python. pip installs the project's wheel and its dependencies, pinned by requirements.lock,
as binary wheels *for the target* (`--platform manylinux_2_*_<cpu>` up to glibc 2.36,
CPython 3.11: Debian 12 and Raspberry Pi OS Bookworm) into the venv's site-packages; the
venv's interpreter is a link to the system's /usr/bin/python3.11, as `python3 -m venv` would
make it. Nothing is compiled, so the result depends only on the lock file and the source
tree. Bytecode is compiled on the target by postinst (prerm removes it).

anju-terminal gets the terminal's dependency set only (no central, no dev extras);
anju-central the central server's. Both install the app at /opt/anju/venv (the units run
/opt/anju/venv/bin/anju), so they conflict: a server is not a front desk.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the settings template comes from terminal/config.py

PYTHON = "3.11"  # Debian 12's and Pi OS Bookworm's; the venv's site-packages path names it
CPU = {"amd64": "x86_64", "arm64": "aarch64"}
VENV = "opt/anju/venv"


@dataclass(frozen=True)
class Spec:
    name: str
    other: str  # the package it conflicts with
    extras: str  # pip extras of the anju distribution
    units: tuple[str, ...]  # unit file names taken from systemd/
    depends: str
    recommends: str
    summary: str
    description: str


def _units(central: bool) -> tuple[str, ...]:
    names = sorted(
        p.name
        for p in (ROOT / "systemd").iterdir()
        if p.suffix in {".service", ".timer", ".socket", ".path", ".target"}
    )
    return tuple(n for n in names if n.startswith("anju-central") == central)


def _installable(unit: str) -> bool:
    """Has an [Install] section: something to enable (the others are started by other units)."""
    text = (ROOT / "systemd" / unit).read_text("utf-8")
    return any(line.strip() == "[Install]" for line in text.splitlines())


def spec(name: str) -> Spec:
    # python3.11: the venv's interpreter; libc6 2.28: the newest manylinux tag the pinned wheels
    # need; libzbar0: pyzbar loads it at run time.
    base = (
        "python3 (>= 3.11), python3 (<< 3.12), python3.11, libc6 (>= 2.28), libzbar0, "
        "adduser, init-system-helpers (>= 1.50)"
    )
    if name == "anju-terminal":
        return Spec(
            name,
            "anju-central",
            "",
            _units(central=False),
            base,
            # the kiosk (anju-kiosk.service): cage, which will not start without Xwayland, and
            # cog (WPE WebKit: Chromium did not fit the Zero 2 W's 512 MB, docs/services.md); a
            # headless box (tests, a desk with its own screen) runs without them: the unit is
            # skipped where cage or cog is missing
            "cage, xwayland, cog, fonts-noto-cjk",
            "guest registration at the front desk (ID card reader, registry, sync)",
            "Reads Chinese ID cards over a serial port, keeps every registration in\n"
            "SQLite on the device and delivers it to the central police server.\n"
            "Installs the services, the udev rules for the reader's USB-serial\n"
            "adapters and the settings template.",
        )
    if name == "anju-central":
        return Spec(
            name,
            "anju-terminal",
            "[central]",
            _units(central=True),
            base,
            # nginx: the TLS front and the package repository; apt-utils and gpg: `anju central
            # repo publish` (apt-ftparchive, signing)
            "nginx, apt-utils, gpg",
            "central server for Anju terminals (ingest, fleet, police search)",
            "Receives the registrations of the guesthouses' terminals, enrols\n"
            "devices and serves the police workspace. Runs behind a TLS-terminating\n"
            "reverse proxy (sample nginx site: /usr/share/doc/anju-central/examples).",
        )
    raise SystemExit(f"unknown package {name!r}")


def version() -> str:
    """The one version: pyproject.toml's, the same that importlib.metadata reports."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]


def run(*argv: str | Path) -> None:
    subprocess.run([str(a) for a in argv], check=True, cwd=ROOT)


def build_wheel(work: Path) -> Path:
    out = work / "wheel"
    shutil.rmtree(out, ignore_errors=True)
    # setuptools' deprecation chatter goes to the log, not the technician's screen
    log = work / "wheel.log"
    with log.open("w") as sink:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), "."],
            check=True,
            cwd=ROOT,
            stdout=sink,
            stderr=sink,
        )
    (wheel,) = out.glob("anju-*.whl")
    return wheel


def _platforms(cpu: str) -> list[str]:
    """Every manylinux tag glibc 2.36 (Debian 12) runs: pip does not widen the one it is given."""
    tags = [f"manylinux_2_{minor}_{cpu}" for minor in range(36, 16, -1)] + [f"manylinux2014_{cpu}"]
    return [arg for tag in tags for arg in ("--platform", tag)]


def install_venv(stage: Path, wheel: Path, pkg: Spec, arch: str, cache: Path) -> None:
    venv = stage / VENV
    site = venv / f"lib/python{PYTHON}/site-packages"
    run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "--disable-pip-version-check",
        "--cache-dir",
        cache,
        "--target",
        site,
        *_platforms(CPU[arch]),
        "--python-version",
        PYTHON,
        "--implementation",
        "cp",
        "--abi",
        f"cp{PYTHON.replace('.', '')}",
        "--only-binary=:all:",
        "-c",
        ROOT / "requirements.lock",
        f"{wheel}{pkg.extras}",
    )
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts with the builder's paths
    # sqlite-utils declares pip (for its own `install` command, which Anju never runs): a pip
    # in /opt/anju/venv would only invite hand-made changes to what the package owns.
    unwanted = [*site.glob("pip"), *site.glob("pip-*.dist-info")]
    if not pkg.extras:  # the terminal: the central server's code is dead without its deps
        unwanted += [site / "central"]
    for path in unwanted:
        shutil.rmtree(path)
    for cached in site.rglob("__pycache__"):
        shutil.rmtree(cached)
    bin_dir = venv / "bin"
    bin_dir.mkdir(parents=True)
    for link in ("python", "python3", f"python{PYTHON}"):
        (bin_dir / link).symlink_to(f"/usr/bin/python{PYTHON}")
    (venv / "pyvenv.cfg").write_text(
        f"home = /usr/bin\ninclude-system-site-packages = false\nversion = {PYTHON}\n"
    )
    script = bin_dir / "anju"
    script.write_text(
        f"#!/{VENV}/bin/python3\nimport sys\n\nfrom terminal.cli import main\n\nsys.exit(main())\n"
    )
    script.chmod(0o755)


def install_files(stage: Path, pkg: Spec) -> None:
    doc = stage / "usr/share/doc" / pkg.name
    doc.mkdir(parents=True)
    shutil.copy(ROOT / "deploy/debian/copyright", doc / "copyright")
    _gzip_to(
        doc / "changelog.gz",
        f"{pkg.name} ({version()}) stable; urgency=medium\n\n"
        "  * Built from the Anju source tree; the history is in its git log.\n\n"
        " -- Anju developers <developers@anju.example.com>  Thu, 01 Jan 2026 00:00:00 +0000\n",
    )
    shutil.copytree(
        ROOT / "docs", stage / "opt/anju/docs", ignore=shutil.ignore_patterns("screenshots")
    )
    units = stage / "lib/systemd/system"
    units.mkdir(parents=True)
    for name in pkg.units:
        shutil.copy(ROOT / "systemd" / name, units / name)
    (stage / "usr/bin").mkdir(parents=True)
    (stage / "usr/bin/anju").symlink_to(f"/{VENV}/bin/anju")
    share = stage / "usr/share" / pkg.name
    share.mkdir(parents=True)
    overrides = stage / "usr/share/lintian/overrides"
    overrides.mkdir(parents=True)
    shutil.copy(ROOT / "deploy/debian/lintian-overrides", overrides / pkg.name)
    if pkg.name == "anju-terminal":
        from terminal.settings_template import render

        (share / "terminal.toml").write_text(render(), "utf-8")
        rules = stage / "lib/udev/rules.d"
        rules.mkdir(parents=True)
        for rule in sorted((ROOT / "deploy/udev").glob("*.rules")):
            shutil.copy(rule, rules / rule.name)
    else:
        shutil.copy(ROOT / "deploy/central/central.env", share / "central.env")
        examples = doc / "examples"
        examples.mkdir()
        shutil.copy(ROOT / "deploy/central/nginx-anju-central.conf", examples)


def _gzip_to(path: Path, text: str) -> None:
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
        out.write(text.encode("utf-8"))


def control_files(stage: Path, pkg: Spec, arch: str) -> None:
    debian = stage / "DEBIAN"
    debian.mkdir()
    size_kib = sum(p.lstat().st_size for p in stage.rglob("*") if not p.is_dir()) // 1024
    fields = {
        "#PACKAGE#": pkg.name,
        "#VERSION#": version(),
        "#ARCH#": arch,
        "#SIZE#": str(size_kib),
        "#DEPENDS#": pkg.depends,
        "#OTHER#": pkg.other,
        "#UNITS#": " ".join(u for u in pkg.units if "@." not in u),
        "#ENABLE#": " ".join(u for u in pkg.units if "@." not in u and _installable(u)),
        "#RECOMMENDS#": f"Recommends: {pkg.recommends}\n" if pkg.recommends else "",
        "#SUMMARY#": pkg.summary,
        "#DESCRIPTION#": "\n".join(" " + line for line in pkg.description.splitlines()),
    }
    for name in ("control.in", "postinst", "prerm", "postrm"):
        text = (ROOT / "deploy/debian" / name).read_text("utf-8")
        for key, value in fields.items():
            text = text.replace(key, value)
        target = debian / name.removesuffix(".in")
        target.write_text(text, "utf-8")
        target.chmod(0o644 if name == "control.in" else 0o755)
    sums = []
    for path in sorted(stage.rglob("*")):
        if path.is_file() and not path.is_symlink() and "DEBIAN" not in path.parts:
            digest = hashlib.md5(path.read_bytes()).hexdigest()  # dpkg's format, not security
            sums.append(f"{digest}  {path.relative_to(stage)}\n")
    (debian / "md5sums").write_text("".join(sums))


def normalise(stage: Path) -> None:
    """Modes dpkg and lintian expect, and one timestamp: the same tree gives the same package."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "1767225600"))
    for path in [stage, *stage.rglob("*")]:
        if path.is_symlink():
            os.utime(path, (epoch, epoch), follow_symlinks=False)
            continue
        # Wheels ship their .so and some modules 0755; only the venv's commands are programs.
        executable = path.is_dir() or path.parent.name == "bin"
        if "DEBIAN" not in path.parts:
            path.chmod(0o755 if executable else 0o644)
        os.utime(path, (epoch, epoch))


def build(package: str, arch: str, out: Path) -> Path:
    pkg = spec(package)
    work = ROOT / "build/deb"
    stage = work / f"{package}_{arch}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    wheel = build_wheel(work)
    install_venv(stage, wheel, pkg, arch, work / "pip-cache")
    install_files(stage, pkg)
    control_files(stage, pkg, arch)
    normalise(stage)
    out.mkdir(parents=True, exist_ok=True)
    deb = out / f"{package}_{version()}_{arch}.deb"
    run("dpkg-deb", "--root-owner-group", "-Zxz", "--build", stage, deb)
    return deb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=sorted(CPU), action="append", required=True)
    parser.add_argument("--package", choices=["anju-terminal", "anju-central"], action="append")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    for package in args.package or ["anju-terminal"]:
        for arch in args.arch:
            deb = build(package, arch, args.out.resolve())
            print(
                f"{deb.relative_to(ROOT) if deb.is_relative_to(ROOT) else deb}"
                f"  {deb.stat().st_size / 1e6:.1f} MB"
            )


if __name__ == "__main__":
    main()
