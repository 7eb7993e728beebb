#!/usr/bin/env bash
# Build the Debian arm64 stand-in of a box's OS (what Raspberry Pi OS Lite 64-bit
# gives a real box) into $1, with its kernel and initrd next to it.
# Slow part: packages configured under qemu-user-static; the initramfs is built
# once at the end instead of after every kernel/firmware package.
set -euo pipefail
out=$1; suite=${SUITE:-bookworm}; mirror=${MIRROR:-http://deb.debian.org/debian}
# What Raspberry Pi OS Lite already has, plus the Debian packages the roles' bundles
# ask for (roles.toml: debian): the stand-in VM has no mirror to fetch them from.
include=$(tr '\n' ',' <<'PKGS' | sed 's/,$//'
systemd
systemd-sysv
systemd-timesyncd
udev
dbus
kmod
iproute2
ca-certificates
linux-image-arm64
python3
python3-venv
mosquitto
mosquitto-clients
fonts-dejavu-core
espeak-ng
libglib2.0-0
libusb-1.0-0
python3-spidev
alsa-utils
libgbm1
libegl1
libgles2
libgl1-mesa-dri
PKGS
)
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
mmdebstrap --arch=arm64 --variant=minbase --include="$include" \
    --dpkgopt=force-confold --dpkgopt=force-confdef \
    --essential-hook='mkdir -p "$1/etc/initramfs-tools" && echo update_initramfs=no > "$1/etc/initramfs-tools/update-initramfs.conf"' \
    --customize-hook='echo update_initramfs=yes > "$1/etc/initramfs-tools/update-initramfs.conf"' \
    --customize-hook='printf "virtio_blk\nvirtio_pci\nvirtio_mmio\next4\n" >> "$1/etc/initramfs-tools/modules"' \
    --customize-hook='sed -i "s/^MODULES=.*/MODULES=list/" "$1/etc/initramfs-tools/initramfs.conf"' \
    --customize-hook='chroot "$1" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin update-initramfs -c -k all' \
    "$suite" "$out.tmp/root" "$mirror"
mv "$out.tmp/root" "$out.tmp/rootfs"
rm -rf "$out"; mv "$out.tmp" "$out"
