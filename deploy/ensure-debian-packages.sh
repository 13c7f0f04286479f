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
# --- ha (issue 19: tests/ha/, deploy/ha/) ---
# The HA tests start their own PostgreSQL primary and standby (initdb, pg_basebackup), nginx
# in front of two servers, with a self-signed certificate made by openssl; promote-standby.sh
# uses psql.
[ -x /usr/lib/postgresql/15/bin/initdb ] || need="$need postgresql"
command -v psql >/dev/null 2>&1 || need="$need postgresql-client"
command -v nginx >/dev/null 2>&1 || need="$need nginx-light"
command -v openssl >/dev/null 2>&1 || need="$need openssl"
# --- end ha ---
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages:$need"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
else
    echo "note: missing Debian packages:$need (run as root or: sudo apt-get install$need)" >&2
fi
