#!/bin/sh
# A Debian 12 root filesystem for the package tests, built once and cached as a tarball:
#   deploy/test/rootfs.sh ARCH DIR     (ARCH: amd64 or arm64; DIR: where to unpack it)
# The tarball lives in var/cache/rootfs/ (gitignored); delete it to rebuild. arm64 runs under
# qemu-user-static through binfmt_misc (mounted and enabled here when it is not).
set -eu
arch=$1
dir=$2
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${ROOTFS_CACHE:-var/cache/rootfs}
tarball=$cache/debian12-$arch.tar.gz
# systemd and dbus so that systemd-nspawn can boot it; the rest comes from the package's Depends.
include=systemd,systemd-sysv,dbus,ca-certificates,udev

if [ "$arch" != "$(dpkg --print-architecture)" ]; then
    if [ ! -e /proc/sys/fs/binfmt_misc/status ]; then
        mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
    fi
    update-binfmts --enable >/dev/null 2>&1 || true
    if [ ! -e "/proc/sys/fs/binfmt_misc/qemu-aarch64" ] && [ "$arch" = arm64 ]; then
        echo "error: no binfmt_misc handler for aarch64 (install qemu-user-static)" >&2
        exit 1
    fi
fi

if [ ! -s "$tarball" ]; then
    mkdir -p "$cache"
    work=$(mktemp -d "$cache/debootstrap.XXXXXX")
    echo "debootstrap bookworm $arch (once; cached in $tarball)" >&2
    debootstrap --arch="$arch" --variant=minbase --include="$include" \
        bookworm "$work/root" "$mirror" >"$work/log" 2>&1 || {
        tail -20 "$work/log" >&2; exit 1; }
    rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*_Packages
    tar -C "$work/root" --numeric-owner -czf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$work"
fi
rm -rf "$dir"
mkdir -p "$dir"
tar -C "$dir" --numeric-owner -xzf "$tarball"
