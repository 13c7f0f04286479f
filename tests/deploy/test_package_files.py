"""The pieces of the Debian package that need no build: settings template, maintainer scripts.

The package itself is built and installed by deploy/test/install_test.py (make test-package,
make test-arm64): too slow and too dependent on the package archives for `make test`.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from terminal.config import SETTINGS, from_mapping
from terminal.settings_template import render

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "deploy"))
import build_deb  # noqa: E402


def test_the_template_means_all_defaults():
    assert from_mapping(tomllib.loads(render())) == from_mapping({})


def test_the_template_shows_every_setting_once():
    text = render()
    for setting in SETTINGS:
        key = setting.name.partition(".")[2]
        table = f"\n[{setting.name.partition('.')[0]}]\n"
        assert text.count(table) == 1, table
        section = text.split(table)[1].split("\n[")[0]
        assert f"\n# {key} = " in section, setting.name


@pytest.mark.parametrize("package", ["anju-terminal", "anju-central"])
def test_maintainer_scripts_are_valid_shell(tmp_path, package):
    build_deb.control_files(tmp_path, build_deb.spec(package), "arm64")
    for name in ("postinst", "prerm", "postrm"):
        script = tmp_path / "DEBIAN" / name
        assert "#" + "UNITS#" not in script.read_text() and "#ENABLE#" not in script.read_text()
        subprocess.run(["sh", "-n", str(script)], check=True)
    control = (tmp_path / "DEBIAN/control").read_text()
    assert f"Package: {package}\nVersion: {build_deb.version()}\nArchitecture: arm64\n" in control


def test_units_with_an_install_section_are_enabled_the_others_not(tmp_path):
    spec = build_deb.spec("anju-terminal")
    build_deb.control_files(tmp_path, spec, "amd64")
    postinst = (tmp_path / "DEBIAN/postinst").read_text()
    enable = postinst.split('ENABLE="')[1].split('"')[0].split()
    assert "anju-terminal.service" in enable
    for unit in spec.units:
        text = (ROOT / "systemd" / unit).read_text()
        assert (unit in enable) == ("\n[Install]" in text and "@." not in unit), unit
    assert not any(u.startswith("anju-central") for u in spec.units)
