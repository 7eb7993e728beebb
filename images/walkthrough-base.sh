#!/bin/bash
# The bench's Raspberry Pi OS Lite for images/walkthrough.sh:   walkthrough-base.sh ROOTFS PUBKEY DEBS
# ROOTFS is a copy of images/build's base. Adds what Pi OS Lite has and that base lacks (the ssh
# server, sudo, NetworkManager), does Raspberry Pi Imager's part (user "tech" with sudo, SSH on, the
# boot partition at /boot/firmware), and the bench's own parts: eth1 (qemu user net) only for the
# laptop's ssh, managed by systemd-networkd and left alone by NetworkManager, and the TCG drop-ins
# images/build gives every motcua unit. chrony's and nftables' .deb files go to DEBS (the laptop).
set -euo pipefail
R=$1 PUB=$2 DEBS=$3
for m in proc sys dev; do mountpoint -q "$R/$m" || mount --bind "/$m" "$R/$m"; done
trap 'for m in dev sys proc; do umount -l "$R/$m" || true; done' EXIT
printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"; chmod +x "$R/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$R/etc/resolv.conf"
chroot "$R" apt-get update -q
chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -o DPkg::Options::=--force-unsafe-io openssh-server sudo network-manager
chroot "$R" apt-get clean
chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --download-only chrony nftables
mkdir -p "$DEBS" && cp "$R"/var/cache/apt/archives/*.deb "$DEBS"/
chroot "$R" apt-get clean
rm -f "$R/usr/sbin/policy-rc.d"
: >"$R/etc/resolv.conf"
# Imager: the user, SSH
chroot "$R" useradd -m -s /bin/bash -G sudo,adm tech 2>/dev/null || true
echo 'tech:tech' | chroot "$R" chpasswd
install -d -m 700 "$R/home/tech/.ssh" && install -m 600 "$PUB" "$R/home/tech/.ssh/authorized_keys"
chroot "$R" chown -R tech:tech /home/tech
echo 'tech ALL=(ALL) NOPASSWD: ALL' >"$R/etc/sudoers.d/010_tech-nopasswd"; chmod 440 "$R/etc/sudoers.d/010_tech-nopasswd"
mkdir -p "$R/boot/firmware"
grep -q BOOTFS "$R/etc/fstab" || echo 'LABEL=BOOTFS /boot/firmware vfat defaults,umask=0022,x-systemd.device-timeout=900 0 0' >>"$R/etc/fstab"
echo box >"$R/etc/hostname"; printf '127.0.0.1 localhost\n' >"$R/etc/hosts"
# the bench's ssh link
mkdir -p "$R/etc/systemd/network" "$R/etc/NetworkManager/conf.d" "$R/etc/systemd/system/multi-user.target.wants"
printf '[Match]\nName=eth1\n\n[Network]\nDHCP=yes\n' >"$R/etc/systemd/network/20-bench.network"
printf '[keyfile]\nunmanaged-devices=interface-name:eth1\n' >"$R/etc/NetworkManager/conf.d/90-bench.conf"
ln -sf /lib/systemd/system/systemd-networkd.service "$R/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
# emulated arm64 is 10-50x slower than a Pi (images/README.md, section 10)
for u in broker dispatcher releases counter; do
    d=$R/etc/systemd/system/motcua-$u.service.d; mkdir -p "$d"
    w='WatchdogSec=600\n'; [ "$u" = broker ] && w=''
    printf "# bench: emulated arm64 is 10-50x slower than a Pi\n[Service]\nTimeoutStartSec=900\n$w" >"$d/stand-in-tcg.conf"
done
