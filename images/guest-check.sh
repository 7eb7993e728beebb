#!/bin/bash
# Runs inside the booted stand-in box (motcua-standin.service), as a technician would on a
# fresh box: the documented install command, then what the host checks. Every fact goes
# to /dev/hvc0 as "STANDIN key value" lines, which images/standin.py reads on the host.
# Then the box powers off.
BUNDLE=/boot/firmware/motcua
SETTLE=${SETTLE:-20}
report() { echo "STANDIN $*" >/dev/hvc0; echo "STANDIN $*"; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }

report boot_done "$(uptime_s)"
# the bench's link needed networkd restarted (standin-wait-online): when, in seconds of its wait
[ -s /run/standin-network-nudges ] && report network_nudges "$(paste -sd' ' /run/standin-network-nudges)"
# the documented first-boot command (images/README.md)
bash "$BUNDLE/install.sh" >/tmp/install.out 2>&1
rc=$?
sed 's/^/STANDIN install_log /' /tmp/install.out >/dev/hvc0
report install_rc "$rc"
# a failed step: the end of its log, what a technician reads next (install.sh names the file)
[ "$rc" = 0 ] || tail -40 /var/log/motcua-install.log | sed 's/^/STANDIN install_log_tail /' >/dev/hvc0
report install_done "$(uptime_s)"
# when each step started (install.sh's log, one line per step): where the time went
grep -E '^[0-9T:+-]+ step ' /var/log/motcua-install.log | sed 's/^/STANDIN install_step /' >/dev/hvc0
if [ -n "${CHECK_IDEMPOTENT:-}" ]; then
    bash "$BUNDLE/install.sh" >/tmp/install2.out 2>&1
    report install_again_rc "$?"
    report install_again_last "$(tail -1 /tmp/install2.out)"
    report install_again_done "$(uptime_s)"
fi

# the daemons this box runs (a timer's service runs now and then: not checked here)
units=$(python3 -c 'import tomllib; print(" ".join(u for u in tomllib.load(open("/etc/motcua/box.toml","rb"))["start"] if u.endswith(".service")))')
sleep "$SETTLE"
for u in $units; do
    A=$(systemctl show "$u" -p ActiveState --value); S=$(systemctl show "$u" -p SubState --value)
    R=$(systemctl show "$u" -p NRestarts --value); P=$(systemctl show "$u" -p MainPID --value)
    report unit "$u" active="$A" sub="$S" restarts="$R" pid="$P"
    report unit_status "$u" "$(systemctl show "$u" -p StatusText --value)"
    if [ "$P" != 0 ] && [ -r "/proc/$P/status" ]; then
        report unit_hardening "$u" user="$(stat -c %U "/proc/$P")" \
            "$(grep -E '^(NoNewPrivs|Seccomp|CapEff):' "/proc/$P/status" | tr -d ' \t' | tr ':' '=' | paste -sd' ')"
    fi
done
failed=$(systemctl --failed --plain --no-legend | awk '{print $1}' | paste -sd' ')
report failed "${failed:-none}"
# what a failed unit said; for the wired link, also what systemd-networkd and udev saw of it
for u in $failed; do
    journalctl -b -u "$u" --no-pager -o short-monotonic | tail -20 | sed "s/^/STANDIN journal_failed $u /" >/dev/hvc0
done
if [ -n "$failed" ] && [ -z "${failed##*systemd-networkd-wait-online*}" ]; then
    { networkctl list --no-pager; networkctl status --no-pager -n 0; ip addr
      journalctl -b -u systemd-networkd -u systemd-udevd -u systemd-udev-trigger --no-pager -o short-monotonic | tail -60
    } 2>&1 | sed 's/^/STANDIN network /' >/dev/hvc0
fi
for u in $units; do journalctl -b -u "$u" -p warning --no-pager -o cat | tail -5 | sed "s/^/STANDIN journal $u /" >/dev/hvc0; done
if [ -x /usr/local/sbin/motcua-standin-extra ]; then
    /usr/local/sbin/motcua-standin-extra
fi
report end "$(uptime_s)"
sync
systemctl poweroff
