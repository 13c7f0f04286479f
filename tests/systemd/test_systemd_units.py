"""The unit files as the package installs them: `systemd-analyze verify` in a root laid out like
an installed system, and `systemd-analyze security --offline=true` exposure limits per unit.

The root holds this machine's own systemd units, the Anju units under /usr/lib/systemd/system,
and /opt/anju/venv/bin/anju (the package's path) as a wrapper that runs this checkout's `anju`;
cage, cog and systemctl likewise wrap the real ones. verify then checks every key, every
dependency and that every ExecStart program exists where the unit says."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT_DIR = ROOT / "systemd"
UNIT_FILES = sorted(p for p in UNIT_DIR.iterdir() if p.suffix in (".service", ".timer", ".path"))
INSTALLED_ANJU = "/opt/anju/venv/bin/anju"
# A template is verified through an instance for the front desk.
INSTANCE = "anju-terminal.service"
# systemd-analyze security: exposure 0 (safe) .. 10 (exposed). Issue 11 asks at most 2.0 for the
# terminal and the uploader; the others are held to what they score now, so none can slip.
EXPOSURE_LIMITS = {
    "anju-terminal.service": 2.0,
    "anju-sync.service": 2.0,
    "anju-central.service": 2.0,
    "anju-purge.service": 1.0,
    "anju-failure@.service": 1.0,
    "anju-revive@.service": 1.0,
    # A compositor and a browser need the GPU, input devices and namespaces (WebKit's sandbox).
    "anju-kiosk.service": 4.5,
    # The updater runs apt and dpkg as root: maintainer scripts write /etc, /opt, /lib, add
    # users and restart services, so most of the sandbox cannot apply.
    "anju-update.service": 7.5,
}

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="no systemd-analyze"
)


def _wrapper(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\nexec {target} "$@"\n')
    path.chmod(0o755)


@pytest.fixture(scope="module")
def installed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("root")
    units = root / "usr/lib/systemd/system"
    shutil.copytree("/usr/lib/systemd/system", units, symlinks=True)
    (root / "lib").symlink_to("usr/lib")
    (root / "etc/systemd/system").mkdir(parents=True)
    _wrapper(root / INSTALLED_ANJU.lstrip("/"), str(Path(sys.executable).parent / "anju"))
    for program in ("/usr/bin/cage", "/usr/bin/cog", "/usr/bin/systemctl"):
        if Path(program).exists():
            _wrapper(root / program.lstrip("/"), program)
    for unit in UNIT_FILES:
        shutil.copy(unit, units / unit.name)
    return root


def _names(unit: Path) -> str:
    if "@." in unit.name:
        return unit.name.replace("@.", f"@{INSTANCE}.")
    return unit.name


def test_there_is_a_unit_for_every_part() -> None:
    names = {u.name for u in UNIT_FILES}
    assert {
        "anju-terminal.service",
        "anju-sync.service",
        "anju-sync.path",
        "anju-kiosk.service",
        "anju-purge.service",
        "anju-purge.timer",
        "anju-central.service",
        "anju-failure@.service",
        "anju-revive@.service",
        "anju-revive@.timer",
        "anju-update.service",
        "anju-update.timer",
        "anju-update.path",
    } <= names


@pytest.mark.parametrize("unit", UNIT_FILES, ids=[u.name for u in UNIT_FILES])
def test_unit_verifies_as_installed(installed_root: Path, unit: Path) -> None:
    if "kiosk" in unit.name and not Path("/usr/bin/cage").exists():
        pytest.skip("cage is not installed (apt-get install cage)")
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={installed_root}", _names(unit)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=installed_root / "usr/lib/systemd/system",
    )
    assert done.returncode == 0 and not done.stderr.strip(), done.stderr


def exposure(unit: Path, tmp_path: Path) -> float:
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text())
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d)", done.stdout)
    assert found, done.stdout + done.stderr
    return float(found.group(1))


@pytest.mark.parametrize("name", sorted(EXPOSURE_LIMITS))
def test_exposure_is_within_its_limit(name: str, tmp_path: Path) -> None:
    score = exposure(UNIT_DIR / name, tmp_path)
    assert score <= EXPOSURE_LIMITS[name], f"{name}: exposure {score}"


def test_the_exposure_check_catches_a_weakened_unit(tmp_path: Path) -> None:
    """Without its sandbox the front desk scores what it did before issue 11 (8.5 EXPOSED)."""
    text = (UNIT_DIR / "anju-terminal.service").read_text()
    weakened = tmp_path / "weak"
    weakened.mkdir()
    kept = [
        line
        for line in text.splitlines()
        if not line.startswith(
            (
                "Capability",
                "SystemCall",
                "Restrict",
                "Protect",
                "Private",
                "DevicePolicy",
                "MemoryDeny",
                "LockPersonality",
            )
        )
    ]
    (weakened / "anju-terminal.service").write_text("\n".join(kept) + "\n")
    assert exposure(weakened / "anju-terminal.service", tmp_path) > 5.0
