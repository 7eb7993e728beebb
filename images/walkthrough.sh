#!/usr/bin/env bash
# A technician following images/README.md word for word on the stand-in (sections 1-3, then 6):
# this host is the laptop (a fresh $HOME outside the repository), the central box and counter-3
# are two qemu-system-aarch64 VMs on one emulated hall LAN (qemu socket multicast on loopback),
# each with a second NIC (qemu user net) that only carries the laptop's ssh (hostfwd).
#
#   images/walkthrough.sh base      the bench's "Raspberry Pi OS Lite" disk (once; needs images/build's base)
#   images/walkthrough.sh laptop    section 2, on the laptop: venv, release, the central box's bundle
#   images/walkthrough.sh hub       section 2 on the central box (boot it, install.sh, fixed address, ...)
#   images/walkthrough.sh counter   section 3: counter-3's bundle, its card, install.sh, status
#   images/walkthrough.sh all       all of the above in order
#
# Commands typed into a box go through `on BOX 'command'` (ssh as the Imager's user), exactly as the
# guide writes them. Where the bench differs from a hall (no router on the LAN, no internet, TCG
# slowness) the line says "bench:".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BASE=${STANDIN_BASE:-/var/cache/motcua-images/base-bookworm}   # images/build's base (read only)
W=${MOTCUA_WALK:-/var/cache/motcua-tech}                            # this bench's own disks and VMs
LAPTOP=${MOTCUA_LAPTOP:-/work/tech-laptop}                           # the laptop's $HOME
MCAST=${MOTCUA_LAN:-230.0.0.77:23456}                               # the hall's switch
SITE=vl-longho
declare -A SSHPORT=([motcua-hub]=22010 [counter-3]=22023) MAC=([motcua-hub]=52:54:00:11:00:10 [counter-3]=52:54:00:11:00:23)
say() { printf '\n\033[1m[walk %s] %s\033[0m\n' "$(date -u +%H:%M:%S)" "$*"; }
lap() { say "laptop\$ $*"; (cd "$LAPTOP" && HOME=$LAPTOP bash -c "$*"); }
ssh_opts() { echo "-i $LAPTOP/.ssh/id_ed25519 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=20"; }
# ssh YOU@BOX.local, as the guide says; the bench reaches the box through its forwarded port
on() { local box=$1; shift; say "tech@$box\$ $*"; ssh $(ssh_opts) -p "${SSHPORT[$box]}" tech@127.0.0.1 "$@"; }
wait_ssh() {
    local box=$1 t=0
    until ssh $(ssh_opts) -p "${SSHPORT[$box]}" tech@127.0.0.1 true 2>/dev/null; do
        sleep 10; t=$((t + 10)); [ $t -lt 1500 ] || { echo "$box: no ssh after $t s"; exit 1; }
    done
    say "$box: ssh answers ($t s after waiting began)"
    # bench: Imager's hostname (Edit settings), which on a Pi is on the card before first boot
    ssh $(ssh_opts) -p "${SSHPORT[$box]}" tech@127.0.0.1 \
        "[ \"\$(hostname)\" = $box ] || { sudo hostnamectl set-hostname $box && echo '127.0.1.1 $box' | sudo tee -a /etc/hosts >/dev/null; }"
}

# A card as Imager leaves it (the bench's base disk, under a copy-on-write overlay) with FOLDER copied
# onto its boot partition as "motcua"; then power the box on.
card_and_boot() {
    local box=$1 folder=$2; local d=$W/$box
    mkdir -p "$d"; rm -rf "$d/bootfs" "$d/bootfs.img" "$d/root.qcow2"
    mkdir -p "$d/bootfs"; echo "# the Pi's boot configuration (stand-in)" >"$d/bootfs/config.txt"
    cp -r "$folder" "$d/bootfs/motcua"                       # "copy the folder onto its boot partition as motcua"
    local kib=$(( $(du -sk "$d/bootfs" | cut -f1) * 5 / 4 + 32768 ))
    mkfs.vfat -F 32 -n BOOTFS -C "$d/bootfs.img" "$kib" >/dev/null
    MTOOLS_SKIP_CHECK=1 mcopy -s -Q -i "$d/bootfs.img" "$d/bootfs/config.txt" "$d/bootfs/motcua" ::/
    qemu-img create -q -f qcow2 -b "$W/disk.ext4" -F raw "$d/root.qcow2"
    local k; k=$(ls "$BASE"/rootfs/boot/vmlinuz-* | tail -1); local i; i=$(ls "$BASE"/rootfs/boot/initrd.img-* | tail -1)
    qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 1536 -kernel "$k" -initrd "$i" \
        -append "root=/dev/vda rw console=ttyAMA0 net.ifnames=0" \
        -drive "file=$d/root.qcow2,if=virtio,format=qcow2" -drive "file=$d/bootfs.img,if=virtio,format=raw" \
        -netdev "socket,id=lan,mcast=$MCAST,localaddr=127.0.0.1" -device "virtio-net-pci,netdev=lan,mac=${MAC[$box]},romfile=" \
        -netdev "user,id=mgmt,hostfwd=tcp:127.0.0.1:${SSHPORT[$box]}-:22" -device "virtio-net-pci,netdev=mgmt,romfile=" \
        -display none -serial "file:$d/console.log" -monitor none -pidfile "$d/qemu.pid" -daemonize
    say "$box: powered on (console: $d/console.log)"
}

stage_base() {
    # bench: the stand-in base (images/build) lacks what Raspberry Pi OS Lite has and the guide uses
    # (sshd, sudo, NetworkManager); this adds them to a copy and does Imager's part (user tech with
    # sudo, SSH on, boot partition on /boot/firmware). chrony and nftables are only downloaded: the
    # laptop carries them to the central box (section 2).
    say "bench: the Raspberry Pi OS Lite stand-in disk in $W"
    mkdir -p "$W" "$LAPTOP/.ssh"
    [ -f "$LAPTOP/.ssh/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -f "$LAPTOP/.ssh/id_ed25519"
    rm -rf "$W/rootfs" && cp -a "$BASE/rootfs" "$W/rootfs"
    "$here/walkthrough-base.sh" "$W/rootfs" "$LAPTOP/.ssh/id_ed25519.pub" "$LAPTOP/debs"
    rm -f "$W/disk.ext4" && mke2fs -q -t ext4 -d "$W/rootfs" -L rootfs "$W/disk.ext4" 4G
}

stage_laptop() {
    say "section 2, on the laptop (a fresh \$HOME: $LAPTOP)"
    (cd "$here/.." && python3 -m pip wheel -q --no-deps . -w "$LAPTOP")    # "pip wheel --no-deps . in a checkout"
    local whl; whl=$(cd "$LAPTOP" && ls motcua-*-py3-none-any.whl | tail -1)
    VERSION=${whl#motcua-}; VERSION=${VERSION%-py3-none-any.whl}
    lap "python3 -m venv ~/motcua && ~/motcua/bin/pip install -q \"motcua-$VERSION-py3-none-any.whl[hub]\""
    lap "~/motcua/bin/motcua box release motcua-$VERSION-py3-none-any.whl --releases ~/releases"
    lap "~/motcua/bin/motcua box bundle hub dispatcher --site $SITE --release ~/releases/$VERSION --out ~/motcua-box-hub"
}

stage_hub() {
    say "section 2: the central box's card (hostname motcua-hub), the folder as motcua, power on"
    card_and_boot motcua-hub "$LAPTOP/motcua-box-hub"
    wait_ssh motcua-hub
    on motcua-hub 'sudo bash /boot/firmware/motcua/install.sh'
    on motcua-hub 'sudo nmcli con mod "Wired connection 1" ipv4.method manual ipv4.addresses 192.168.1.10/24 ipv4.gateway 192.168.1.1 ipv4.dns 192.168.1.1'
    on motcua-hub 'sudo nmcli con up "Wired connection 1"'   # bench: ssh rides eth1, so the session survives
    on motcua-hub 'sudo motcua broker gen-certs --server --host 192.168.1.10 --host motcua-hub.local'
    on motcua-hub 'sudo systemctl restart motcua-broker'
    # the bench has no internet: the guide's way without it (the .deb files from the laptop); -y: no tty
    lap "scp $(ssh_opts) -P ${SSHPORT[motcua-hub]} debs/chrony_*.deb debs/nftables_*.deb debs/libnftables1_*.deb debs/libnftnl11_*.deb tech@127.0.0.1:"
    on motcua-hub 'sudo apt install -y --no-install-recommends ./*.deb'
    on motcua-hub 'sudo systemctl restart motcua-broker'
    on motcua-hub "printf 'allow 192.168.1.0/24\\nlocal stratum 10\\n' | sudo tee /etc/chrony/conf.d/motcua.conf"
    on motcua-hub 'sudo systemctl restart chrony'
    on motcua-hub 'chronyc tracking | grep Leap'
    on motcua-hub 'sudo motcua status --config /etc/motcua/status.toml'
}

stage_counter() {
    say "section 3: counter-3's bundle on the central box"
    # bench: the VM has no MAX7219 matrix, no BCM GPIO header, no USB keypad; emulated arm64 needs a
    # longer MQTT keepalive (section 10). The guide's own way: --set / --unset
    on motcua-hub 'sudo motcua box bundle counter counter-3 --counter 3 --broker-host 192.168.1.10 --set matrix.driver=dummy --set gpio.pin_factory=mock --unset serial_keypad --set mqtt.keepalive_s=120'
    rm -rf "$LAPTOP/motcua-box-counter-3"
    lap "scp $(ssh_opts) -P ${SSHPORT[motcua-hub]} -r tech@127.0.0.1:motcua-box-counter-3 ."   # scp -r YOU@motcua-hub.local:motcua-box-counter-3 .
    say "section 3: counter-3's card (hostname counter-3), the folder as motcua, power on"
    card_and_boot counter-3 "$LAPTOP/motcua-box-counter-3"
    wait_ssh counter-3
    # bench: the hall's router would give the box an address by DHCP; the emulated LAN has none
    ssh $(ssh_opts) -p "${SSHPORT[counter-3]}" tech@127.0.0.1 \
        'sudo nmcli con mod "Wired connection 1" ipv4.method manual ipv4.addresses 192.168.1.23/24 && sudo nmcli con up "Wired connection 1" >/dev/null'
    on counter-3 'sudo bash /boot/firmware/motcua/install.sh'
    on counter-3 'systemctl status --no-pager motcua-counter | head -5'
    sleep 30
    on motcua-hub 'sudo motcua status --config /etc/motcua/status.toml'
}

stop_vms() {
    for b in counter-3 motcua-hub; do
        [ -f "$W/$b/qemu.pid" ] && kill "$(cat "$W/$b/qemu.pid")" 2>/dev/null && say "$b: powered off"
        rm -f "$W/$b/qemu.pid"
    done
}

case "${1:-}" in
    base) stage_base ;;
    laptop) stage_laptop ;;
    hub) stage_hub ;;
    counter) stage_counter ;;
    stop) stop_vms ;;
    all) stop_vms; stage_laptop; stage_hub; stage_counter ;;
    "") ;;   # sourced
    *) echo "usage: $0 base|laptop|hub|counter|all|stop" >&2; exit 2 ;;
esac
