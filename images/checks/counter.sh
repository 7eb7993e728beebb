#!/bin/bash
# The counter box updates from the host's release server: a good release, then one that
# cannot start. motcua-update must keep the good one and roll the bad one back by itself.
r() { echo "STANDIN $*" >/dev/hvc0; }
up() { cut -d' ' -f1 /proc/uptime; }
t0=$(up)
motcua-update --version "$GOOD" --timeout 240 --settle 15 >/tmp/update-good.log 2>&1
rc=$?
sed 's/^/STANDIN update_log /' /tmp/update-good.log >/dev/hvc0
r update_good_rc "$rc"
r update_good_venv "$(readlink /opt/motcua/.venv)"
t1=$(up)
motcua-update --version "$BAD" --timeout 60 --settle 10 >/tmp/update-bad.log 2>&1
rc=$?
sed 's/^/STANDIN update_log /' /tmp/update-bad.log >/dev/hvc0
r update_bad_rc "$rc"
r update_bad_venv "$(readlink /opt/motcua/.venv)"
sleep 10
r update_final "$(systemctl is-active motcua-counter.service)" "$(systemctl show motcua-counter.service -p StatusText --value)"
r timing update_good_s "$(echo "$t1 - $t0" | bc 2>/dev/null || python3 -c "print(round($t1-$t0,1))")"
# motcua-update's own log, with when each step began: where the update's time goes
sed 's/^/STANDIN update_timeline /' /var/log/motcua-update.log >/dev/hvc0
r timing update_total_s "$(python3 -c "print(round($(up)-$t0,1))")"
