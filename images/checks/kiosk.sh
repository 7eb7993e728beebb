#!/bin/bash
# The kiosk's USB printer, for real: a USB printer gadget (configfs, usb_f_printer) on
# dummy_hcd stands where the thermal printer would be plugged in. The kiosk's own printer
# code prints a test ticket through its configured USB transport (vendor/product from
# kiosk.toml, the udev rule the bundle installed, as user motcua); the gadget side records
# the bytes and answers the status queries; the raster is decoded and sent to the host.
r() { echo "STANDIN $*" >/dev/hvc0; }
set -u
modprobe libcomposite && modprobe dummy_hcd || { r check "FAIL modprobe dummy_hcd/libcomposite"; exit 0; }
mountpoint -q /sys/kernel/config || mount -t configfs none /sys/kernel/config
G=/sys/kernel/config/usb_gadget/tm-t20ii
mkdir -p $G && cd $G || exit 0
echo 0x04b8 >idVendor; echo 0x0e15 >idProduct; echo 0x0200 >bcdUSB
mkdir -p strings/0x409
echo "EPSON" >strings/0x409/manufacturer; echo "TM-T20II (gadget)" >strings/0x409/product
echo "STANDIN0001" >strings/0x409/serialnumber
mkdir -p functions/printer.usb0
echo "MFG:EPSON;CMD:ESC/POS;MDL:TM-T20II;CLS:PRINTER;" >functions/printer.usb0/pnp_string
echo 10 >functions/printer.usb0/q_len
mkdir -p configs/c.1
[ -e configs/c.1/printer.usb0 ] || ln -s functions/printer.usb0 configs/c.1/
ls /sys/class/udc | head -1 >UDC || { r check "FAIL could not bind the gadget to dummy_hcd"; exit 0; }
udevadm settle
sleep 2
dev=$(grep -l "^04b8$" /sys/bus/usb/devices/*/idVendor | head -1)
node=/dev/bus/usb/$(printf %03d "$(cat "$(dirname "$dev")/busnum")")/$(printf %03d "$(cat "$(dirname "$dev")/devnum")")
r usb_device "$node $(stat -c '%U:%G %a' "$node")"
eps=$(cat "$(dirname "$dev")"/*:1.0/ep_*/bEndpointAddress 2>/dev/null | paste -sd' ')
r usb_endpoints "$eps"
# the endpoints a technician reads with lsusb -v must be the ones the bundle set (printer.transport)
want=$(python3 -c 'import tomllib; t = tomllib.load(open("/etc/motcua/kiosk.toml", "rb"))["printer"]["transport"]; print(f"{t.get(\"in_ep\", 0x82):02x} {t.get(\"out_ep\", 1):02x}")')
for e in $want; do echo " $eps " | grep -q " $e " || r check "FAIL endpoint $e of kiosk.toml is not on the device ($eps)"; done
python3 /usr/local/sbin/usb_printer_gadget.py /dev/g_printer0 /tmp/gadget.bin 1800 >/tmp/gadget.out 2>&1 &
gadget=$!
sleep 1
t0=$(cut -d' ' -f1 /proc/uptime)
motcua commission --only printer --yes --technician standin --box /etc/motcua/box.toml >/tmp/commission.out 2>&1
rc=$?
sed 's/^/STANDIN commission_log /' /tmp/commission.out >/dev/hvc0
r commission_rc "$rc"
# nothing printed: the gadget's reader would wait for bytes until its timeout
[ "$rc" = 0 ] || { sleep 5; kill "$gadget" 2>/dev/null; }
wait $gadget
r gadget "$(cat /tmp/gadget.out)"
t1=$(cut -d' ' -f1 /proc/uptime)
r timing usb_print_s "$(python3 -c "print(round($t1-$t0,1))")"
/opt/motcua/.venv/bin/python - <<'PY' >/tmp/decode.out 2>&1
from kiosk_ticket.printer import raster_image
raster_image(open("/tmp/gadget.bin", "rb").read()).save("/tmp/ticket.png")
PY
[ -s /tmp/ticket.png ] || { r check "FAIL the gadget's bytes do not decode: $(tail -2 /tmp/decode.out)"; exit 0; }
r ticket_png "$(base64 -w0 /tmp/ticket.png)"
grep -q "COMMISSIONED" /tmp/commission.out && r check "ok the kiosk printed over USB and commissioning recorded it" \
    || r check "FAIL commissioning the printer: $(tail -3 /tmp/commission.out | paste -sd' ')"
systemctl is-active --quiet motcua-kiosk.service && r check "ok motcua-kiosk active again after commissioning" \
    || r check "FAIL motcua-kiosk not active after commissioning"
