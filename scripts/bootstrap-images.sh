#!/usr/bin/env bash
# What images/build needs on the build machine (Debian bookworm, root): the arm64 root
# filesystem builder and emulators, the boot partition's FAT tools, and OCR to read back the ticket the stand-in kiosk prints.
# Safe to run again.
set -euo pipefail
need=()
for cmd_pkg in mmdebstrap:mmdebstrap qemu-system-aarch64:qemu-system-arm qemu-aarch64-static:qemu-user-static \
               update-binfmts:binfmt-support mke2fs:e2fsprogs tesseract:tesseract-ocr arch-test:arch-test \
               mkfs.vfat:dosfstools mcopy:mtools qemu-img:qemu-utils; do
    command -v "${cmd_pkg%%:*}" >/dev/null 2>&1 || need+=("${cmd_pkg#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "bootstrap-images: installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=900 "${need[@]}" >/dev/null
fi
# qemu-user-static runs the arm64 packages' scripts while the root filesystem is built
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
