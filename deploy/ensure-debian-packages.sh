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
# The browser tests drive Debian's chromium (never a browser downloaded by Playwright): its
# headless shell, half the CPU of the full browser for the same pages (tests/chromium.py); the
# benches run the full browser. The page's Chinese needs a CJK font to render (screenshots,
# overflow checks).
[ -x /usr/bin/chromium ] || need="$need chromium"
[ -x /usr/lib/chromium/chromium-headless-shell ] || need="$need chromium-headless-shell"
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need="$need fonts-noto-cjk"
# --- powercut (issue 13: tests/powercut/) ---
# Power-cut tests (tests/powercut/): a FUSE filesystem that loses unsynced writes, mounted with
# fusermount3 through libfuse3 (loaded by mfusepy at run time).
command -v fusermount3 >/dev/null 2>&1 || need="$need fuse3"
ldconfig -p 2>/dev/null | grep -q 'libfuse3\.so\.3' || need="$need libfuse3-3"
# --- end powercut ---
# --- clock tests (issue 12, section 3) ---------------------------------------------------------
# faketime runs a real `anju` at 1970 or months stale in tests/terminal/test_clock_faketime.py
# (LD_PRELOAD of libfaketime; the tests skip without it). Test machines only, not the terminal.
command -v faketime >/dev/null 2>&1 || need="$need faketime"
# --- end clock tests ----------------------------------------------------------------------------
# --- units (issue 11: systemd/, deploy/nginx/) ---
# tests/systemd verifies the kiosk unit, whose ExecStart is cage (the Wayland kiosk compositor,
# which needs Xwayland to start) running cog (WPE WebKit), and runs `nginx -t` on the sample TLS
# site for the central server; bench/bench_pi_budget.py drives cog under cage's headless backend
# through WPEWebDriver.
command -v cage >/dev/null 2>&1 || need="$need cage"
command -v Xwayland >/dev/null 2>&1 || need="$need xwayland"
command -v cog >/dev/null 2>&1 || need="$need cog"
command -v WPEWebDriver >/dev/null 2>&1 || need="$need wpewebkit-driver"
command -v nginx >/dev/null 2>&1 || need="$need nginx-light"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
# --- end units ---
# --- ha (issue 19: tests/ha/, deploy/ha/) ---
# The HA tests start their own PostgreSQL primary and standby (initdb, pg_basebackup), nginx
# in front of two servers (nginx-light, openssl: listed under units above), with a self-signed
# certificate made by openssl; promote-standby.sh uses psql.
[ -x /usr/lib/postgresql/15/bin/initdb ] || need="$need postgresql"
command -v psql >/dev/null 2>&1 || need="$need postgresql-client"
# --- end ha ---
# --- Needed ONLY by one test (tests/central/test_police_export_files.py::
# test_libreoffice_converts_the_xlsx_without_loss), which opens the police XLSX export in
# LibreOffice headless; the terminal and the server never run it. Skipped where absent.
command -v soffice >/dev/null 2>&1 || need="$need libreoffice-calc-nogui"
# --- end of the test-only block
# --- updates (issue 13, section 1: tests/terminal/test_update_apt.py) ---
# A signed apt repository made with Debian's tools (apt-ftparchive from apt-utils, gpg) and
# fetched by the real apt-get; the central server's `anju central repo publish` uses the same.
command -v apt-ftparchive >/dev/null 2>&1 || need="$need apt-utils"
command -v gpg >/dev/null 2>&1 || need="$need gpg"
# --- end updates ---
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
