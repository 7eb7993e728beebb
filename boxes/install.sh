#!/usr/bin/env bash
# Install (or re-install) this box from its bundle: run as root from the bundle's folder,
#     sudo bash /boot/firmware/motcua/install.sh
# Safe to run again: every step checks first and changes only what differs.
# Needs no network beyond the hall's LAN: the wheels are in release/, Debian packages come
# from debs/ when present, otherwise from the OS's mirror.
# Ends with "install.sh: OK ..." or "install.sh: FAILED at step N (what): ..." and exit 1.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${MOTCUA_PREFIX:-/opt/motcua}
ETC=/etc/motcua
LOG=${MOTCUA_INSTALL_LOG:-/var/log/motcua-install.log}
STEP=0
CHANGED=no   # anything the running daemon reads: then its unit restarts
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
# the host's or the image's pip settings must not redirect the offline install
export PIP_CONFIG_FILE=/dev/null

say() { echo "install.sh: $*"; echo "$(date -Is) $*" >>"$LOG"; }
step() { STEP=$((STEP + 1)); WHAT=$1; say "step $STEP: $WHAT"; }
fail() { say "FAILED at step $STEP ($WHAT): $*"; say "details: $LOG"; exit 1; }
run() { "$@" >>"$LOG" 2>&1 || fail "$* (exit $?)"; }
booted() { [ -d /run/systemd/system ]; }

[ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo bash $0)" >&2; exit 1; }
mkdir -p "$(dirname "$LOG")"

step "read box.toml"
command -v python3 >/dev/null || fail "python3 missing: the box needs Raspberry Pi OS (bookworm or trixie) or Debian"
eval "$(python3 - "$HERE/box.toml" <<'PY'
import shlex, sys, tomllib
b = tomllib.load(open(sys.argv[1], "rb"))
def out(k, v):
    print(f"{k}={shlex.quote(' '.join(v) if isinstance(v, list) else str(v))}")
for key in ("role", "site", "device_id", "release", "extra", "settings_file", "units", "debian", "groups",
            "system_site_packages", "persistent_journal", "start"):
    out("BOX_" + key.upper(), b[key])
out("BOX_PYTHON_FROM_DEBIAN", b.get("python_from_debian", []))
print("CONFIG_TXT=(" + " ".join(shlex.quote(l) for l in b["config_txt"]) + ")")
print("AFTER=(" + " ".join(shlex.quote(c) for c in b["after_install"]) + ")")
out("TIME_SERVER", b.get("time", {}).get("server", ""))
out("UPDATE_URL", b.get("update", {}).get("url", ""))
PY
)" || fail "box.toml is not readable"
say "box $BOX_DEVICE_ID: role $BOX_ROLE, site $BOX_SITE, release $BOX_RELEASE"

step "Debian packages"
missing=()
for pkg in $BOX_DEBIAN; do dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg"); done
if [ ${#missing[@]} -gt 0 ]; then
    if compgen -G "$HERE/debs/*.deb" >/dev/null; then
        run apt-get install -y --no-install-recommends "$HERE"/debs/*.deb
    else
        run apt-get update
        run apt-get install -y --no-install-recommends "${missing[@]}"
    fi
fi

step "user and groups"
install -m 0644 "$HERE/units/motcua.sysusers.conf" /usr/lib/sysusers.d/motcua.conf
run systemd-sysusers /usr/lib/sysusers.d/motcua.conf
for g in $BOX_GROUPS; do
    getent group "$g" >/dev/null || run groupadd --system "$g"   # plain Debian has no spi/gpio groups
    id -nG motcua | tr ' ' '\n' | grep -qx "$g" || run usermod -aG "$g" motcua
done

step "device permissions (udev)"
if ! cmp -s "$HERE/udev/60-motcua.rules" /etc/udev/rules.d/60-motcua.rules; then
    install -m 0644 "$HERE/udev/60-motcua.rules" /etc/udev/rules.d/60-motcua.rules
    CHANGED=yes
    if booted; then udevadm control --reload >>"$LOG" 2>&1; udevadm trigger >>"$LOG" 2>&1; fi
fi

step "boot configuration (config.txt)"
REBOOT=no
CONFIG_TXT_FILE=${MOTCUA_CONFIG_TXT:-/boot/firmware/config.txt}
if [ ${#CONFIG_TXT[@]} -gt 0 ]; then
    if [ -f "$CONFIG_TXT_FILE" ]; then
        for line in "${CONFIG_TXT[@]}"; do
            grep -qxF "$line" "$CONFIG_TXT_FILE" || { echo "$line" >>"$CONFIG_TXT_FILE"; REBOOT=yes; }
        done
    else
        say "no $CONFIG_TXT_FILE (not a Raspberry Pi): skipped ${CONFIG_TXT[*]}"
    fi
fi

step "the motcua $BOX_RELEASE virtual environment"
rel=$PREFIX/releases/$BOX_RELEASE
installed() { "$rel/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("motcua"))' 2>/dev/null; }
from_wheels() {  # what the role takes from Debian, installed from the wheels by an older bundle: made again
    for n in $BOX_PYTHON_FROM_DEBIAN; do
        compgen -G "$rel/venv/lib/python3*/site-packages/${n//-/_}-*.dist-info" >/dev/null && return 0
    done
    return 1
}
if [ ! -x "$rel/venv/bin/motcua" ] || [ "$(installed)" != "$BOX_RELEASE" ] || from_wheels; then
    rm -rf "$rel"; mkdir -p "$rel"
    run cp -r "$HERE/release/." "$rel/"
    venv_opts=()
    [ "$BOX_SYSTEM_SITE_PACKAGES" = True ] && venv_opts+=(--system-site-packages)
    # shellcheck disable=SC2086  # a list of names
    [ -n "$BOX_PYTHON_FROM_DEBIAN" ] && venv_opts+=(--from-debian $BOX_PYTHON_FROM_DEBIAN)
    # boxvenv.py: the venv, filled by the OS's own pip (python3-pip, else its pip wheel); what the role takes from Debian
    # (pygame on a screen box: its SDL draws on the console) kept from Debian, never from the wheels
    python3 "$HERE/boxvenv.py" "$rel" "motcua[$BOX_EXTRA]==$BOX_RELEASE" "${venv_opts[@]}" >>"$LOG" 2>&1 \
        || { rm -rf "$rel/venv"; why=$(grep 'boxvenv: FAILED: ' "$LOG" | tail -1 | cut -c18-); fail "${why:-$(tail -1 "$LOG")}"; }
    CHANGED=yes
fi
[ "$(readlink "$PREFIX/.venv" 2>/dev/null)" = "releases/$BOX_RELEASE/venv" ] || CHANGED=yes
# switch atomically: /opt/motcua/.venv is what the units start
ln -sfn "releases/$BOX_RELEASE/venv" "$PREFIX/.venv.new" && mv -T "$PREFIX/.venv.new" "$PREFIX/.venv" \
    || fail "could not point $PREFIX/.venv at $rel/venv"
ln -sfn "$PREFIX/.venv/bin/motcua" /usr/local/bin/motcua
ln -sfn "$PREFIX/.venv/bin/motcua-update" /usr/local/sbin/motcua-update

step "settings and secrets in $ETC"
install -d -m 0750 -g motcua "$ETC"
install -m 0640 -g motcua "$HERE/box.toml" "$ETC/box.toml"
if [ -f "$ETC/$BOX_SETTINGS_FILE" ] && ! cmp -s "$HERE/settings/$BOX_SETTINGS_FILE" "$ETC/$BOX_SETTINGS_FILE"; then
    cp -p "$ETC/$BOX_SETTINGS_FILE" "$ETC/$SETTINGS_FILE.before-install"   # a technician's edits are kept aside
fi
put() {  # put FILE MODE TARGET: install it when it differs, and remember that something changed
    cmp -s "$1" "$3" && return 0
    install -m "$2" -g motcua "$1" "$3" || fail "could not write $3"
    CHANGED=yes
}
put "$HERE/settings/$BOX_SETTINGS_FILE" 0640 "$ETC/$BOX_SETTINGS_FILE"
[ -f "$HERE/secrets/mqtt.password" ] && put "$HERE/secrets/mqtt.password" 0640 "$ETC/mqtt.password"
[ -f "$HERE/secrets/ca.crt" ] && put "$HERE/secrets/ca.crt" 0644 "$ETC/ca.crt"
for f in "$HERE"/units/*.nft; do [ -f "$f" ] && put "$f" 0644 "$ETC/$(basename "$f")"; done  # firewall rules a unit loads

step "role setup"
HOSTNAME_NOW=$(hostname)
for cmd in "${AFTER[@]}"; do
    cmd=${cmd//\{venv\}/$PREFIX/.venv}; cmd=${cmd//\{site\}/$BOX_SITE}; cmd=${cmd//\{device_id\}/$BOX_DEVICE_ID}
    cmd=${cmd//\{hostname\}/$HOSTNAME_NOW}; cmd=${cmd//\{bundle\}/$HERE}; cmd=${cmd//\{release\}/$BOX_RELEASE}
    echo "$(date -Is) step $STEP: running $cmd" >>"$LOG"   # when each command started: where the time goes
    PATH=$PREFIX/.venv/bin:$PATH run sh -c "$cmd"
done

step "logs in RAM (SD card wear)"
if [ "$BOX_PERSISTENT_JOURNAL" != True ]; then
    mkdir -p /etc/systemd/journald.conf.d
    printf '# motcua: a box logs to RAM; the SD card is not worn by logs (images/README.md)\n[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n' \
        >/etc/systemd/journald.conf.d/motcua.conf
    booted && systemctl restart systemd-journald >>"$LOG" 2>&1 || true
fi

step "time from the central box"
if [ -n "$TIME_SERVER" ]; then
    mkdir -p /etc/systemd/timesyncd.conf.d
    printf '# motcua: the hall central box keeps time for the hall\n[Time]\nNTP=%s\n' "$TIME_SERVER" \
        >/etc/systemd/timesyncd.conf.d/motcua.conf
    booted && systemctl restart systemd-timesyncd >>"$LOG" 2>&1 || true
fi

step "systemd units: $BOX_UNITS"
for u in $BOX_UNITS; do
    cmp -s "$HERE/units/$u" "/etc/systemd/system/$u" || { install -m 0644 "$HERE/units/$u" /etc/systemd/system/; CHANGED=yes; }
done
if booted; then
    run systemctl daemon-reload
    [ "$BOX_ROLE" = hub ] && systemctl disable --now mosquitto.service >>"$LOG" 2>&1   # motcua-broker runs instead
    # restart only when something it reads changed; otherwise make sure it runs
    action=start; [ "$CHANGED" = yes ] && action=restart
    # one call each: one reload of systemd for every unit, and the units start side by side (their own
    # After= orders them; one after another, a central box waited for each Python daemon in turn)
    # shellcheck disable=SC2086  # a list of unit names
    run systemctl enable $BOX_START
    # shellcheck disable=SC2086
    run systemctl "$action" $BOX_START
    for u in $BOX_START; do
        for _ in $(seq 1 "${BOX_START_WAIT:-120}"); do systemctl is-active --quiet "$u" && break; sleep 1; done
        systemctl is-active --quiet "$u" || fail "$u is not active: journalctl -u $u -b"
    done
else
    [ "$BOX_ROLE" = hub ] && systemctl disable mosquitto.service >>"$LOG" 2>&1
    for u in $BOX_START; do run systemctl enable "$u"; done
fi

msg="OK: $BOX_DEVICE_ID ($BOX_ROLE) runs motcua $BOX_RELEASE"
booted || msg="$msg (enabled; starts at next boot)"
[ "$REBOOT" = yes ] && msg="$msg; reboot once for config.txt ($CONFIG_TXT_FILE changed)"
say "$msg"
