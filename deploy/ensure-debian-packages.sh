#!/bin/sh
# Install the Debian packages Anju needs when they are missing.
# Only acts as root; otherwise prints what to install and carries on.
set -eu
need=""
python3 -c 'import ensurepip, venv' 2>/dev/null || need="$need python3-venv"
# pyzbar loads libzbar at run time (barcode images).
ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' || need="$need libzbar0"
# strace counts fsyncs in the store benchmark.
command -v strace >/dev/null 2>&1 || need="$need strace"
# The browser tests drive Debian's chromium (never a browser downloaded by Playwright), and the
# page's Chinese needs a CJK font to render (screenshots, overflow checks).
[ -x /usr/bin/chromium ] || need="$need chromium"
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need="$need fonts-noto-cjk"
# The udev rules' test runs the real udevadm against recorded adapters shown by umockdev.
command -v udevadm >/dev/null 2>&1 || need="$need udev"
command -v umockdev-run >/dev/null 2>&1 || need="$need umockdev"
# `make deb` and the package tests (deploy/build_deb.py, deploy/test/): ANJU_PACKAGE_TOOLS=1.
if [ "${ANJU_PACKAGE_TOOLS:-0}" = 1 ]; then
    command -v debootstrap >/dev/null 2>&1 || need="$need debootstrap"
    [ -x /usr/libexec/qemu-binfmt/aarch64-binfmt-P ] || need="$need qemu-user-static"
    command -v update-binfmts >/dev/null 2>&1 || need="$need binfmt-support"
    command -v systemd-nspawn >/dev/null 2>&1 || need="$need systemd-container"
    command -v lintian >/dev/null 2>&1 || need="$need lintian"
fi
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages:$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
else
    echo "note: missing Debian packages:$need (run as root or: sudo apt-get install$need)" >&2
fi
