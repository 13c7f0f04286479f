"""deploy/udev/99-anju-serial.rules evaluated by the real udev (`udevadm test`, with Debian's own
rules) against recorded adapters presented as /sys by umockdev.

Each run happens in a private mount namespace: the rules folder holds only the package's rule
(Debian's rules in /usr/lib/udev/rules.d still run), /etc/group gains the `anju` group the
package creates, and /dev and /run are fresh tmpfs, so nothing on this machine changes.
Needs root (mount namespaces) and the umockdev package (deploy/ensure-debian-packages.sh).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.udev_recording import CDC_ACM, CH340, CH9102, CP210X, FTDI, PL2303, record

ROOT = Path(__file__).resolve().parents[2]
RULE = ROOT / "deploy/udev/99-anju-serial.rules"
ANJU_GID = 4242

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("umockdev-run") or not shutil.which("unshare"),
    reason="needs root and umockdev (deploy/ensure-debian-packages.sh installs it)",
)

SETUP = """
set -e
mount --bind "$WORK/rules" /etc/udev/rules.d
mount --bind "$WORK/group" /etc/group
mount -t tmpfs tmpfs /run
mkdir -p "$WORK/dev" && mount -t tmpfs tmpfs "$WORK/dev"
for node in null zero random urandom; do
    touch "$WORK/dev/$node" && mount --bind "/dev/$node" "$WORK/dev/$node"
done
mkdir "$WORK/dev/pts" && mount -t devpts -o newinstance,ptmxmode=0666 devpts "$WORK/dev/pts"
ln -s pts/ptmx "$WORK/dev/ptmx"  # umockdev backs the fake tty with a pseudo-terminal
mount --rbind "$WORK/dev" /dev
exec umockdev-run -d "$WORK/device.umockdev" -- udevadm test --action=add "/sys/class/tty/$TTY"
"""


def udev_test(tmp_path: Path, recording: str, tty: str) -> tuple[dict[str, str], str]:
    """(properties, log) of `udevadm test` on `tty` as the recording describes it."""
    (tmp_path / "rules").mkdir(parents=True)
    shutil.copy(RULE, tmp_path / "rules" / RULE.name)
    group = Path("/etc/group").read_text()
    (tmp_path / "group").write_text(group + f"anju:x:{ANJU_GID}:\n")
    (tmp_path / "device.umockdev").write_text(recording)
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", SETUP],
        env={**os.environ, "WORK": str(tmp_path), "TTY": tty},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    log = done.stdout + done.stderr
    assert f"Reading rules file: /etc/udev/rules.d/{RULE.name}" in log
    properties = dict(
        line.split("=", 1)
        for line in log.splitlines()
        if re.fullmatch(r"[A-Z_.][A-Z0-9_]*=.*", line)
    )
    return properties, log


def ownership(log: str) -> tuple[str | None, str | None]:
    """The GROUP and MODE the package's rule gave (None: it gave none)."""
    group = re.findall(rf"{RULE.name}:\d+ GROUP (\d+)", log)
    mode = re.findall(rf"{RULE.name}:\d+ MODE (\d+)", log)
    return (group[-1] if group else None), (mode[-1] if mode else None)


@pytest.mark.parametrize(
    ("adapter", "tty", "chip"),
    [
        (CH340, "ttyUSB0", "ch340"),
        (PL2303, "ttyUSB0", "pl2303"),
        (CP210X, "ttyUSB0", "cp210x"),
        (FTDI, "ttyUSB0", "ftdi"),
        (CDC_ACM, "ttyACM0", "cdc-acm"),
    ],
)
def test_known_adapter_gets_anju_group_and_a_name_by_socket(tmp_path, adapter, tty, chip):
    properties, log = udev_test(tmp_path, record(adapter, "3", tty), tty)
    assert properties["ANJU_CHIP"] == chip
    assert properties["ANJU_USB_PORT"] == "1-1.3"
    assert "/dev/anju/port-1-1.3" in properties["DEVLINKS"].split()
    assert ownership(log) == (str(ANJU_GID), "0660")
    assert properties["ID_MM_DEVICE_IGNORE"] == "1"  # ModemManager must not probe a reader


def test_two_identical_chips_are_told_apart_by_their_socket(tmp_path):
    """Reader and scanner on the same CH340, no serial numbers: by-id collides, ours does not."""
    first, _ = udev_test(tmp_path / "a", record(CH340, "2", "ttyUSB0"), "ttyUSB0")
    second, _ = udev_test(tmp_path / "b", record(CH340, "4", "ttyUSB1"), "ttyUSB1")
    by_id = [{link for link in p["DEVLINKS"].split() if "/by-id/" in link} for p in (first, second)]
    assert by_id[0] == by_id[1]  # what Debian's own rules give: one name for both
    assert "/dev/anju/port-1-1.2" in first["DEVLINKS"].split()
    assert "/dev/anju/port-1-1.4" in second["DEVLINKS"].split()


def test_unknown_adapter_is_left_alone(tmp_path):
    properties, log = udev_test(tmp_path / "x", record(CH9102, "3", "ttyUSB0"), "ttyUSB0")
    assert "ANJU_CHIP" not in properties
    assert "/dev/anju/" not in properties.get("DEVLINKS", "")
    assert ownership(log) == (None, None)


def test_unknown_acm_device_is_claimed(tmp_path):
    """Every CDC-ACM port is the desk's: scanners in USB-serial mode have arbitrary ids."""
    properties, _ = udev_test(tmp_path / "y", record(CH9102, "1", "ttyACM0"), "ttyACM0")
    assert properties["ANJU_CHIP"] == "cdc-acm"
    assert "/dev/anju/port-1-1.1" in properties["DEVLINKS"].split()
