#!/usr/bin/env bash
# Build the Debian arm64 stand-in of a box's OS (what Raspberry Pi OS Lite 64-bit
# gives a real box) into $1, with its kernel and initrd next to it.
# Slow part: packages unpacked and configured under qemu-user-static (dpkg without fsync: a
# scratch tree); where the time goes: images/README.md, section 10. The initramfs holds only
# what a virtio disk with ext4 needs (MODULES=list), set before the kernel is installed, and is
# made once, by the kernel's postinst: update-initramfs -u (the trigger that udev, kmod and
# others pull at the end, a second mkinitramfs of a minute under emulation) is off while the
# tree is built and back on in the finished box.
set -euo pipefail
out=$1; suite=${SUITE:-bookworm}; mirror=${MIRROR:-http://deb.debian.org/debian}
# What Raspberry Pi OS Lite already has, plus the Debian packages the roles' bundles
# ask for (roles.toml: debian): the stand-in VM has no mirror to fetch them from.
# python3-pip: boxes/boxvenv.py fills a box's venv with the OS's own pip when there is one
# (byte-compiled here, once); without it, pip runs from python3-venv's wheel and Python compiles
# pip again on every call (seconds on a Pi, over a minute per venv under emulation).
# Not the public CA list (ca-certificates comes with python3-pip, its files are left out below):
# a box trusts only its site's CA, which its bundle carries, and the package's certificate
# rebuilds over the whole list cost about a minute and a half under emulation.
include=$(tr '\n' ',' <<'PKGS' | sed 's/,$//'
systemd
systemd-sysv
systemd-timesyncd
udev
dbus
kmod
iproute2
openssl
linux-image-arm64
python3
python3-venv
python3-pip
python3-pygame
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
# Files no box reads, left out as dpkg unpacks (every file costs emulated dpkg time): documentation,
# translations of the tools' messages, the public CA list (above), and kernel modules for hardware
# neither a Pi nor the VM has.
exclude=()
for p in doc man info locale ca-certificates; do
    exclude+=("--dpkgopt=path-exclude=/usr/share/$p/*")
done
for d in net/wireless net/ethernet media infiniband iio gpu/drm/amd gpu/drm/nouveau gpu/drm/radeon; do
    # bookworm's kernel package ships /lib/modules, trixie's /usr/lib/modules
    exclude+=("--dpkgopt=path-exclude=/lib/modules/*/kernel/drivers/$d/*"
              "--dpkgopt=path-exclude=/usr/lib/modules/*/kernel/drivers/$d/*")
done
exclude+=("--dpkgopt=path-include=/usr/share/doc/*/copyright" "--dpkgopt=path-include=/usr/share/locale/locale.alias")
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
fi
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
mmdebstrap --arch=arm64 --variant=minbase --include="$include" \
    --dpkgopt=force-confold --dpkgopt=force-confdef --dpkgopt=force-unsafe-io \
    --aptopt='Acquire::Languages "none"' \
    "${exclude[@]}" \
    --essential-hook='mkdir -p "$1/etc/initramfs-tools"' \
    --essential-hook='printf "MODULES=list\nBUSYBOX=auto\nCOMPRESS=gzip\nRUNSIZE=10%%\nFSTYPE=auto\n" > "$1/etc/initramfs-tools/initramfs.conf"' \
    --essential-hook='printf "virtio_pci\nvirtio_mmio\nvirtio_blk\next4\n" > "$1/etc/initramfs-tools/modules"' \
    --essential-hook='echo update_initramfs=no > "$1/etc/initramfs-tools/update-initramfs.conf"' \
    --customize-hook='echo update_initramfs=yes > "$1/etc/initramfs-tools/update-initramfs.conf"' \
    "$suite" "$out.tmp/root" "$mirror"
mv "$out.tmp/root" "$out.tmp/rootfs"
rm -rf "$out"; mv "$out.tmp" "$out"
