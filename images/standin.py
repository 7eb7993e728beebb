"""Build and boot a Debian arm64 stand-in of one box, provisioned from its bundle, and check it from the host.

    images/build --role counter --boot-check
    images/build --role all --boot-check          every role that has a unit, one after another

What happens (each step timed, the times printed and written as one JSON line at the end):

1. base root filesystem: ``images/rootfs.sh`` (mmdebstrap, arm64, bookworm) once, cached in
   ``$STANDIN_CACHE`` (default /var/cache/motcua-images) and rebuilt when rootfs.sh changes;
2. the central box's part, on this host: ``motcua broker init``, ``gen-certs`` for the address
   the VM sees the host at (10.0.2.2), a release of this checkout (``motcua box release``: wheels
   for aarch64 from PyPI, cached), ``motcua box bundle ROLE ID``; the site broker (our
   broker_config/site) listening on loopback;
3. the box's disk: the base with the bundle on /boot/firmware/motcua (where the Imager's boot
   partition is mounted), ext4 by ``mke2fs -d``;
4. ``qemu-system-aarch64 -M virt`` (TCG) boots it; inside, images/guest-check.sh runs the
   documented install command, waits, reports the units' state on a virtio console, powers off;
5. the host checks: install.sh said OK; every unit active, never restarted, running as motcua
   with NoNewPrivs and a seccomp filter; ``systemctl --failed`` empty; the box published
   ``online`` (and its health with the release's version) on the host's broker.

What the stand-in proves and what needs a real Pi: images/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from boxes.bundle import BundleRequest, make_bundle  # noqa: E402
from boxes.release import make_release  # noqa: E402
from boxes.roles import load_roles  # noqa: E402
from motcua.broker.configs import render_site  # noqa: E402
from motcua.broker.site import SiteBroker  # noqa: E402
from motcua.localbroker import LocalBroker, free_port  # noqa: E402

CACHE = Path(os.environ.get("STANDIN_CACHE", "/var/cache/motcua-images"))
HOST_FROM_GUEST = "10.0.2.2"  # qemu user networking: the host's loopback as the guest sees it
SITE = "standin"

# What a technician sets on a bench box without the hall's hardware (the VM has no SPI
# matrix, no BCM GPIO header, no keypad or scanner): the same bundle, these keys changed.
BENCH = {
    "counter": {"sets": ['matrix.driver="dummy"', 'gpio.pin_factory="mock"'], "unsets": ["serial_keypad"]},
    "announcer": {"sets": ['audio.driver="alsa"'], "unsets": ["amplifier.relay_pin"]},
    # the USB printer gadget on dummy_hcd: Epson's ids, the endpoints dummy_hcd gives it (lsusb -v)
    "kiosk": {"sets": ["printer.transport.vendor_id=0x04b8", "printer.transport.product_id=0x0e15",
                       "printer.transport.in_ep=0x81", "printer.transport.out_ep=0x02"],
              "unsets": ["scanner"]},
    "pad": {"sets": [], "unsets": []},
    "board": {"sets": [], "unsets": []},
    "hub": {"sets": [], "unsets": []},
    # the signboard's MAX7219 chain is luma's dummy device, as the counter box's matrix
    "signboard": {"sets": ['panel.driver="dummy"'], "unsets": []},
    "progress": {"sets": [], "unsets": []},
}
# The update test's bad release: the counter daemon cannot start (exit 1, so systemd restarts it).
BROKEN_COUNTER = ("counter_display/__main__.py::import sys\n\n\ndef main():\n"
                  "    sys.exit('this release is broken on purpose (the update test)')\n")
# Every box: under TCG the TLS handshake alone takes 20 s or more, longer than the default MQTT
# keepalive (15 s) within which paho wants the broker's CONNACK; a Pi does it in well under a second.
for _bench in BENCH.values():
    _bench["sets"].append("mqtt.keepalive_s=120")
DEVICE = {"hub": ("dispatcher", None), "counter": ("counter-3", 3), "kiosk": ("kiosk-1", None),
          "pad": ("pad-3", 3), "board": ("board-1", None), "announcer": ("announcer-1", None),
          "signboard": ("signboard-1", None), "progress": ("progress-1", None)}


# measured (images/README.md section 10): the counter's two updates, the central box's venv and role setup,
# the kiosk's USB printer, the announcer's voice pack; then the others
LONGEST_FIRST = ("counter", "hub", "kiosk", "announcer", "board", "pad", "signboard", "progress")


def log(msg: str) -> None:
    print(f"[standin {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def digest(*paths: Path) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def base_rootfs(times: dict) -> Path:
    """The cached base: rebuilt only when rootfs.sh changes."""
    key = digest(HERE / "rootfs.sh")
    base = CACHE / "base-bookworm"
    if (base / "key").is_file() and (base / "key").read_text().strip() == key:
        return base
    log(f"building the base root filesystem in {base} (mmdebstrap, arm64; about 10-15 min)")
    t0 = time.monotonic()
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "base.log").open("w") as out:
        subprocess.run([str(HERE / "rootfs.sh"), str(base)], check=True, stdout=out, stderr=subprocess.STDOUT)
    (base / "key").write_text(key + "\n")
    times["rootfs_s"] = round(time.monotonic() - t0, 1)
    return base


def wheel_of_checkout(work: Path, version: str | None = None, sabotage: str | None = None) -> Path:
    """A wheel of this checkout; ``version`` and ``sabotage`` make the update test's releases."""
    # always from a copy: setuptools writes build/ and *.egg-info into the tree it builds, and two
    # builds of one tree at once (parallel stand-ins) break each other
    src = work / f"src-{version or 'checkout'}"
    shutil.rmtree(src, ignore_errors=True)
    ignore = shutil.ignore_patterns(".venv", ".git", "dist", "demo-output", "__pycache__", "*.egg-info", "build")
    shutil.copytree(REPO, src, ignore=ignore, symlinks=True)
    if version:
        py = src / "pyproject.toml"
        py.write_text(py.read_text().replace('version = "', f'version = "{version}"  # was "', 1))
    if sabotage:
        target, text = sabotage.split("::", 1)
        (src / target).write_text(text)
    dist = work / f"dist-{version or 'checkout'}"
    shutil.rmtree(dist, ignore_errors=True)
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"building the wheel of {src} failed:\n{r.stderr[-2000:]}")
    return next(dist.glob("motcua-*.whl"))


@dataclass
class Hub:
    """The central box's side, played by this host."""

    work: Path
    broker: LocalBroker | None = None
    releases: Path = field(init=False)
    good: str = "0.1.1"
    bad: str = "0.1.2"
    http_port: int = 0
    seen: dict = field(default_factory=dict)

    def __post_init__(self):
        self.releases = self.work / "releases"
        self.registry = SiteBroker(self.work / "broker")

    def start(self) -> None:
        self.registry.init(SITE)
        from motcua.broker.certs import SiteCA

        ca = SiteCA(self.registry.certs_dir, SITE)
        ca.ensure()
        ca.server([HOST_FROM_GUEST, "127.0.0.1"])
        port = free_port()

        def render(b: LocalBroker) -> str:
            text = render_site(self.registry.directory, data_dir=b.workdir, local_port=free_port(), tls_port=port,
                               log_dest=f"file {b.workdir / 'mosquitto.log'}", user=_user())
            # loopback only: the guest reaches it through qemu's user network (10.0.2.2 -> 127.0.0.1)
            return text.replace(f"\nlistener {port}\n", f"\nlistener {port} 127.0.0.1\n")

        self.broker = LocalBroker(self.work / "mosquitto", port=port, render=render, site=SITE)
        self.broker.registry = self.registry
        self.broker.start()
        self.watch()

    def watch(self) -> None:
        """Record every availability and health the boxes publish, with when it arrived."""
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.registry.add_device("operator", "standin-check")
        c = paho.Client(CallbackAPIVersion.VERSION2, client_id="standin-check", protocol=paho.MQTTv5)
        c.username_pw_set("standin-check", self.registry.password_of("standin-check"))
        c.tls_set(ca_certs=str(self.registry.certs_dir / "ca.crt"))
        lock = threading.Lock()

        def on_message(_c, _u, msg):
            with lock:
                self.seen.setdefault(msg.topic, []).append((time.monotonic(), msg.payload.decode(errors="replace")))

        c.on_message = on_message
        c.on_connect = lambda cl, *_: cl.subscribe(f"motcua/v1/{SITE}/device/+/#", qos=1)
        self.broker.reload()
        c.connect("127.0.0.1", self.broker.port)
        c.loop_start()
        self._client = c

    def values(self, device_id: str, what: str) -> list[str]:
        return [v for _, v in self.seen.get(f"motcua/v1/{SITE}/device/{device_id}/{what}", [])]

    def last(self, device_id: str, what: str) -> str | None:
        values = self.seen.get(f"motcua/v1/{SITE}/device/{device_id}/{what}")
        return values[-1][1] if values else None

    def stop(self) -> None:
        if self.broker:
            self._client.loop_stop()
            self.broker.stop()


def _user() -> str | None:
    return "root" if os.geteuid() == 0 else None


def release_of(hub: Hub, wheel: Path, times: dict, key: str = "release_s") -> Path:
    t0 = time.monotonic()
    cache = CACHE / "pip-cache"
    rel = make_release(wheel, releases=hub.releases, ca_key=hub.registry.certs_dir / "ca.key", pythons=("3.11",),
                       cache=cache)
    times[key] = round(time.monotonic() - t0, 1)
    return rel


STANDIN_UNIT = """[Unit]
Description=stand-in: install from the bundle on the boot partition, report, power off
Wants=network-online.target
After=network-online.target
RequiresMountsFor=/boot/firmware
ConditionPathExists=/boot/firmware/standin/start

[Service]
Type=oneshot
ExecStart=/bin/bash /boot/firmware/standin/start
StandardOutput=journal+console
"""


STANDIN_WAIT_ONLINE = r"""#!/bin/bash
# images/standin.py wrote this: the stand-in's wait for its wired link (qemu's user network)
limit=${1:-900} nudge=${2:-150}
next=$nudge
while [ "$SECONDS" -lt "$limit" ]; do
    ip -4 -o addr show scope global | grep -q inet && exit 0
    if [ "$SECONDS" -ge "$next" ]; then
        next=$((next + nudge))
        echo "stand-in: no IPv4 address after $SECONDS s; what systemd-networkd and udev saw, then the link again"
        networkctl list --no-pager; networkctl status --no-pager -n 0; ip addr
        journalctl -b -u systemd-networkd -u systemd-udevd -u systemd-udev-trigger --no-pager -o short-monotonic | tail -40
        echo "$SECONDS" >>/run/standin-network-nudges
        # not a restart of networkd: this unit is bound to it and would be restarted too
        udevadm trigger --action=add --subsystem-match=net
        networkctl reconfigure eth0
    fi
    sleep 2
done
echo "stand-in: no IPv4 address after $limit s"
exit 1
"""


def _stage_base(root: Path) -> None:
    """What every stand-in box has beyond the base packages: wired DHCP (what Raspberry Pi OS does on
    its cable), the boot partition on /boot/firmware (FAT, as on a Pi), and the first-boot trigger that
    runs the stand-in's script from that partition (the role's part comes with the partition)."""
    (root / "boot" / "firmware").mkdir(parents=True, exist_ok=True)
    with (root / "etc" / "fstab").open("a") as f:
        # a busy host's udev may take longer than systemd's 90 s default to name the partition
        f.write("LABEL=BOOTFS /boot/firmware vfat defaults,umask=0022,x-systemd.device-timeout=900 0 0\n")
    (root / "etc" / "hostname").write_text("box\n")
    (root / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    net = root / "etc" / "systemd" / "network"
    net.mkdir(parents=True, exist_ok=True)
    (net / "20-wired.network").write_text("[Match]\nName=en* eth*\n\n[Network]\nDHCP=yes\n")
    system = root / "etc" / "systemd" / "system"
    for target, unit, where in (("multi-user.target.wants", "systemd-networkd.service", "/lib/systemd/system"),
                                ("network-online.target.wants", "systemd-networkd-wait-online.service",
                                 "/lib/systemd/system"),
                                ("multi-user.target.wants", "motcua-standin.service", "/etc/systemd/system")):
        (system / target).mkdir(parents=True, exist_ok=True)
        link = system / target / unit
        if not link.is_symlink():
            link.symlink_to(f"{where}/{unit}")
    (system / "motcua-standin.service").write_text(STANDIN_UNIT)
    # Raspberry Pi OS Lite has no mosquitto: only the central box's install.sh asks for it (and then
    # runs its own motcua-broker instead). The stand-in carries the package for the hub, since the VM
    # has no mirror, but no other box should spend its boot starting a broker it never had.
    (system / "multi-user.target.wants" / "mosquitto.service").unlink(missing_ok=True)
    # The bench's wired link (qemu's user network, managed by systemd-networkd; a Pi's is NetworkManager's)
    # waits for qemu's DHCP. On a busy shared host the emulated boot can take longer than
    # systemd-networkd-wait-online's own two minutes (seen: six), and once in some forty boots the link
    # got no address at all within 15 minutes. The bench's wait: up to 900 s for an address, and every
    # 150 s without one, what networkd and udev saw goes to the console and udev and networkd take the link
    # again; the host reports each such nudge (guest-check.sh). The bench's patience and repair, not the box's.
    sbin = root / "usr" / "local" / "sbin"
    sbin.mkdir(parents=True, exist_ok=True)
    (sbin / "standin-wait-online").write_text(STANDIN_WAIT_ONLINE)
    (sbin / "standin-wait-online").chmod(0o755)
    wait_online = system / "systemd-networkd-wait-online.service.d"
    wait_online.mkdir(parents=True, exist_ok=True)
    (wait_online / "stand-in-tcg.conf").write_text(
        "# images/build: emulated arm64 on a shared host is 10-50x slower than a Pi\n[Service]\nExecStart=\n"
        "ExecStart=/usr/local/sbin/standin-wait-online 900\nTimeoutStartSec=960\n"
        "StandardOutput=journal+console\n")


def base_disk(base: Path, times: dict) -> Path:
    """The root file system every role boots from, read-only under a qcow2 overlay per box (built once
    per base root filesystem)."""
    import inspect

    key = digest(base / "key") + hashlib.sha256(
        (inspect.getsource(_stage_base) + STANDIN_UNIT + STANDIN_WAIT_ONLINE).encode()).hexdigest()[:16]
    disk, keyfile = base / "disk.ext4", base / "disk.key"
    if disk.is_file() and keyfile.is_file() and keyfile.read_text().strip() == key:
        return disk
    t0 = time.monotonic()
    stage = base / "stage"
    subprocess.run(["rm", "-rf", str(stage)], check=True)
    subprocess.run(["cp", "-a", "--reflink=auto", str(base / "rootfs"), str(stage)], check=True)
    _stage_base(stage)
    tmp = base / "disk.ext4.tmp"
    tmp.unlink(missing_ok=True)
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-d", str(stage), "-L", "rootfs", str(tmp), "4G"], check=True)
    subprocess.run(["rm", "-rf", str(stage)], check=True)
    tmp.rename(disk)
    keyfile.write_text(key + "\n")
    times["base_disk_s"] = round(time.monotonic() - t0, 1)
    return disk


def start_script(role: str, env: dict[str, str], units: list[str], extra: str | None) -> str:
    """/boot/firmware/standin/start: the bench's part, then the check (images/guest-check.sh)."""
    lines = ["#!/bin/bash", "# images/standin.py wrote this: the bench's part of a stand-in box, then its check",
             f"echo box-{role} >/etc/hostname; hostname box-{role}",
             f"echo '127.0.1.1 box-{role}' >>/etc/hosts",
             "install -m 0755 /boot/firmware/standin/guest-check.sh /usr/local/sbin/motcua-standin",
             "for f in /boot/firmware/standin/*.py; do install -m 0755 \"$f\" /usr/local/sbin/; done"]
    if extra:
        lines.append("install -m 0755 /boot/firmware/standin/extra.sh /usr/local/sbin/motcua-standin-extra")
    # Under TCG on a shared 2-core host a Python daemon takes minutes, not seconds, to start: give the
    # role's units the time (start timeout, watchdog) with a drop-in; every hardening line stays as shipped.
    for unit in units:
        watchdog = "WatchdogSec=600\\n" if unit != "motcua-broker.service" else ""
        lines.append(f"mkdir -p /etc/systemd/system/{unit}.d && printf '# images/build: emulated arm64 is "
                     f"10-50x slower than a Pi\\n[Service]\\nTimeoutStartSec=900\\n{watchdog}' "
                     f">/etc/systemd/system/{unit}.d/stand-in-tcg.conf")
    lines.append("systemctl daemon-reload")
    lines += [f"export {k}={v}" for k, v in env.items()]
    lines.append("exec /usr/local/sbin/motcua-standin")
    return "\n".join(lines) + "\n"


def boot_partition(work: Path, role: str, env: dict[str, str], units: list[str], extra: str | None) -> Path:
    """The FAT boot partition, as Raspberry Pi Imager leaves it plus what the technician copies on:
    config.txt, the bundle as motcua/ (already in work/bootfs), and the stand-in's own folder."""
    fs = work / "bootfs"
    (fs / "config.txt").write_text("# the Pi's boot configuration (stand-in)\n")
    st = fs / "standin"
    st.mkdir(parents=True, exist_ok=True)
    (st / "start").write_text(start_script(role, env, units, extra))
    shutil.copy(HERE / "guest-check.sh", st / "guest-check.sh")
    for helper in (HERE / "checks").glob("*.py"):
        shutil.copy(helper, st / helper.name)
    if extra:
        (st / "extra.sh").write_text(extra)
    size = sum(f.stat().st_size for f in fs.rglob("*") if f.is_file())
    kib = max(128 * 1024, (size * 5 // 4) // 1024 + 32 * 1024)
    image = work / "bootfs.img"
    image.unlink(missing_ok=True)
    subprocess.run(["mkfs.vfat", "-F", "32", "-n", "BOOTFS", "-C", str(image), str(kib)], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["mcopy", "-s", "-Q", "-i", str(image), *map(str, sorted(fs.iterdir())), "::/"], check=True,
                   env={**os.environ, "MTOOLS_SKIP_CHECK": "1"})
    return image


def overlay(disk: Path, work: Path) -> Path:
    """The box's own root: copy-on-write over the shared base (qcow2), so a box costs no copy."""
    image = work / "root.qcow2"
    image.unlink(missing_ok=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(disk), "-F", "raw", str(image)], check=True)
    return image


def boot(base: Path, root: Path, bootfs: Path, work: Path, role: str, timeout: float) -> tuple[list[str], float]:
    boot_dir = base / "rootfs" / "boot"
    kernel = sorted(boot_dir.glob("vmlinuz-*"))[-1]
    initrd = sorted(boot_dir.glob("initrd.img-*"))[-1]
    report = work / "report.txt"
    console = work / "console.log"
    report.unlink(missing_ok=True)
    # one virtual CPU per box (STANDIN_SMP to change it): three boxes of two each on a two-core host spent
    # emulated cycles waiting on each other's CPUs; one each did the same eight boxes in 1,440 s, not 1,700
    cmd = ["qemu-system-aarch64", "-M", "virt", "-cpu", "cortex-a72", "-smp", os.environ.get("STANDIN_SMP", "1"),
           "-m", "1536",
           "-kernel", str(kernel), "-initrd", str(initrd),
           # mitigations=off: the guest's Spectre workarounds only cost emulated cycles (the bench's own VM)
           "-append", "root=/dev/vda rw console=ttyAMA0 systemd.show_status=1 net.ifnames=0 mitigations=off",
           # cache=unsafe: both disks are thrown away after the check, so the guest's flushes (every
           # fsync of dpkg, pip and journald) need not reach this host's disk; the shared base is read only
           "-drive", f"file={root},if=virtio,format=qcow2,cache=unsafe",
           "-drive", f"file={bootfs},if=virtio,format=raw,cache=unsafe",
           "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0,romfile=",
           "-device", "virtio-serial-device", "-chardev", f"file,id=rep,path={report}",
           "-device", "virtconsole,chardev=rep",
           "-display", "none", "-serial", f"file:{console}", "-monitor", "none", "-no-reboot"]
    if role in ("kiosk", "pad", "board", "progress"):
        cmd += ["-device", "virtio-gpu-pci", "-device", "virtio-tablet-pci"]
    if role == "announcer":
        cmd += ["-audiodev", "none,id=snd0", "-device", "intel-hda", "-device", "hda-output,audiodev=snd0"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=(work / "qemu.stderr").open("w"))
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(timeout=30)
        log(f"{role}: the VM did not power off within {timeout:.0f} s (console: {console})")
    elapsed = time.monotonic() - t0
    lines = report.read_text(errors="replace").splitlines() if report.exists() else []
    return [ln.removeprefix("STANDIN ") for ln in lines if ln.startswith("STANDIN ")], elapsed


def judge(role: str, device_id: str, lines: list[str], hub: Hub, version: str, work: Path) -> list[str]:
    """What the host checks; each failure as a sentence."""
    problems = []
    facts = {}
    for ln in lines:
        key, _, rest = ln.partition(" ")
        facts.setdefault(key, []).append(rest)
    if facts.get("install_rc") != ["0"]:
        problems.append("install.sh did not succeed: " + " | ".join(facts.get("install_log", [])[-5:])
                        + "\n    /var/log/motcua-install.log ends:\n      "
                        + "\n      ".join(facts.get("install_log_tail", [])[-25:]))
    units = facts.get("unit", [])
    if not units:
        problems.append("no unit reported (did the VM boot? see console.log)")
    for u in units:
        name, *kv = u.split()
        d = dict(x.split("=", 1) for x in kv)
        if d.get("active") != "active" or d.get("sub") != "running":
            problems.append(f"{name} is {d.get('active')}/{d.get('sub')}")
        if d.get("restarts") != "0":
            problems.append(f"{name} restarted {d.get('restarts')} times")
    for h in facts.get("unit_hardening", []):
        name, *kv = h.split()
        d = dict(x.split("=", 1) for x in kv)
        if d.get("NoNewPrivs") != "1" or d.get("Seccomp") != "2":
            problems.append(f"{name}: hardening not applied ({h})")
        if d.get("CapEff", "0").strip("0"):
            problems.append(f"{name}: has capabilities {d.get('CapEff')}")
        if name != "motcua-broker.service" and d.get("user") != "motcua":
            problems.append(f"{name} runs as {d.get('user')}, not motcua")
    if len(facts.get("unit_hardening", [])) != len(units):
        problems.append("some unit's process could not be inspected")
    if facts.get("failed") != ["none"]:
        problems.append(f"systemctl --failed: {facts.get('failed')}" + "".join(
            f"\n      {ln}" for ln in (facts.get("journal_failed", []) + facts.get("network", []))[-40:]))
    if role == "hub":
        status = "\n".join(facts.get("status", []))
        if f"{device_id}" not in status or "online" not in status:
            problems.append(f"the hub's own broker does not show the dispatcher online: {status[-500:]}")
    else:
        # the box's clean shutdown at the end publishes offline: what counts is that it came online
        if "online" not in hub.values(device_id, "availability"):
            problems.append(f"{device_id} never published online on the host's broker "
                            f"(seen: {hub.values(device_id, 'availability')})")
        versions = [json.loads(p).get("version") for _, p in hub.seen.get(
            f"motcua/v1/{SITE}/device/{device_id}/health", [])]
        if version not in versions:
            problems.append(f"{device_id}'s health never carried release {version}: {versions}")
    for ln in facts.get("check", []):
        if not ln.startswith("ok "):
            problems.append(f"check: {ln}")
    if role == "kiosk":
        problems += read_ticket(facts, work)
    if role == "counter":
        problems += judge_update(facts, hub, device_id)
    return problems


def read_ticket(facts: dict, work: Path) -> list[str]:
    """The raster the gadget received, decoded in the box, read back here: it must show the test number."""
    import base64

    from boxes.commission import TEST_NUMBER

    png = facts.get("ticket_png")
    if not png:
        return ["no ticket came out of the USB printer gadget"]
    path = work / "ticket.png"
    path.write_bytes(base64.b64decode(png[0]))
    log(f"kiosk: the ticket as printed over USB: {path}")
    if shutil.which("tesseract") is None:
        return ["tesseract is missing (scripts/bootstrap-images.sh installs it): cannot read the ticket"]
    read = [ocr_line(line, work / f"ticket-line-{i}.png") for i, line in enumerate(printed_lines(path))]
    if TEST_NUMBER not in read:
        return [f"no line of the printed ticket reads {TEST_NUMBER}; OCR read the lines: {read!r}"]
    log(f"kiosk: OCR of the printed ticket reads {TEST_NUMBER} on line {read.index(TEST_NUMBER) + 1}")
    return []


def printed_lines(path: Path):
    """The ticket's printed lines, one picture each: rows of ink between blank rows, cut to their ink and
    given a white margin. The number is printed edge to edge on a 58/80 mm ticket; tesseract misses a
    glyph that touches the picture's edge, and reads a line best on its own (--psm 7)."""
    from PIL import Image, ImageOps

    im = Image.open(path).convert("L")
    w, h = im.size
    px = im.load()
    inked = [any(px[x, y] < 128 for x in range(w)) for y in range(h)] + [False]
    start = None
    for y, ink in enumerate(inked):
        if ink and start is None:
            start = y
        elif not ink and start is not None:
            if y - start >= 8:  # a rule across the ticket is not a line of text
                line = im.crop((0, start, w, y))
                left, _, right, _ = ImageOps.invert(line).getbbox()
                yield ImageOps.expand(line.crop((left, 0, right, line.height)), border=max(20, (y - start) // 2),
                                      fill=255)
            start = None


def ocr_line(picture, path: Path) -> str:
    picture.save(path)
    out = subprocess.run(["tesseract", str(path), "-", "--psm", "7"], capture_output=True, text=True).stdout
    return "".join(out.split())


def judge_update(facts: dict, hub: Hub, device_id: str) -> list[str]:
    """Good release: installed and healthy. Bad release: rolled back by itself, back online on the good one."""
    problems = []
    one = lambda k: (facts.get(k) or [""])[0]  # noqa: E731
    if one("update_good_rc") != "0" or not one("update_good_venv").startswith(f"releases/{hub.good}/"):
        problems.append(f"update to {hub.good} failed: rc {one('update_good_rc')}, venv {one('update_good_venv')}")
    if one("update_bad_rc") != "1" or not one("update_bad_venv").startswith(f"releases/{hub.good}/"):
        problems.append(f"the bad release {hub.bad} was not rolled back: rc {one('update_bad_rc')}, "
                        f"venv {one('update_bad_venv')}")
    if not one("update_final").startswith("active"):
        problems.append(f"after the rollback the unit is {one('update_final')}")
    versions = [json.loads(p).get("version") for _, p in hub.seen.get(
        f"motcua/v1/{SITE}/device/{device_id}/health", [])]
    if hub.good not in versions:
        problems.append(f"{device_id} never reported health on {hub.good}: {versions}")
    elif versions[-1] != hub.good:
        problems.append(f"{device_id}'s last health is on {versions[-1]}, not {hub.good}")
    avail = hub.values(device_id, "availability")
    if "online" not in avail[avail.index("offline") + 1:] if "offline" in avail[:-1] else "online" not in avail:
        problems.append(f"{device_id} did not come back online after the rollback: {avail}")
    return problems


def screen_state(role: str, lines: list[str]) -> str | None:
    """What a screen box's daemon says of its screen (virtio-gpu gives the VM a KMS/DRM display).
    Reported, not judged: touch and what the screen shows need a real Pi (images/README.md)."""
    if "screen" not in load_roles()[role].commission:
        return None
    for ln in lines:
        if ln.startswith("journal ") and "no screen:" in ln:
            return "NO SCREEN: " + ln.split("no screen:", 1)[1].strip()
        if ln.startswith("unit_status ") and "screen " in ln:
            return ln.split(": ", 1)[-1]
    return "not reported"


def extra_script(role: str) -> str | None:
    path = HERE / "checks" / f"{role}.sh"
    return path.read_text() if path.is_file() else None


# The host-side preparation of a box (its bundle registered with the broker, the update test's
# releases, its disks) runs one box at a time; the boots overlap (--jobs).
PREPARE = threading.Lock()


def boot_check(role: str, disk: Path, base: Path, work: Path, hub: Hub, release: Path, times: dict,
               timeout: float) -> bool:
    device_id, counter = DEVICE[role]
    bench = BENCH[role]
    rw = work / role
    shutil.rmtree(rw, ignore_errors=True)
    rw.mkdir(parents=True)
    with PREPARE:
        t0 = time.monotonic()
        # the technician's copy: the bundle as the folder motcua on the card's boot partition
        make_bundle(BundleRequest(
            role=role, device_id=device_id, counter=counter, out=rw / "bootfs" / "motcua", release=release,
            site=SITE, broker_dir=hub.registry.directory, broker_host=HOST_FROM_GUEST, broker_port=hub.broker.port,
            update_url=f"http://{HOST_FROM_GUEST}:{hub.http_port}/", sets=bench["sets"], unsets=bench["unsets"]))
        hub.broker.reload()
        env = {}
        if role == "counter":  # install.sh run twice; then the update test: a good release, then a bad one
            env = {"CHECK_IDEMPOTENT": "1", "GOOD": hub.good, "BAD": hub.bad}
        env["BOX_START_WAIT"] = "900"
        units = [u.name for u in load_roles()[role].units()]
        bootfs = boot_partition(rw, role, env, units, extra_script(role))
        root = overlay(disk, rw)
        times[f"{role}_disk_s"] = round(time.monotonic() - t0, 1)
    log(f"{role}: booting under qemu-system-aarch64 (TCG): {root} over {disk}, boot partition {bootfs}")
    lines, elapsed = boot(base, root, bootfs, rw, role, timeout)
    times[f"{role}_boot_check_s"] = round(elapsed, 1)
    (rw / "report.lines").write_text("\n".join(lines) + "\n")
    for ln in lines:
        if ln.split(" ", 1)[0] in ("install_done", "install_again_done", "boot_done", "end", "check", "timing"):
            log(f"{role}: {ln}")
        if ln.startswith("network_nudges "):
            times[f"{role}_network_nudges"] = ln.split()[1:]
            log(f"{role}: the bench's link got no address for a while; udev and networkd took it again after "
                f"{', '.join(ln.split()[1:])} s of waiting (what it saw: {rw / 'console.log'})")
    version = json.loads((release / "release.json").read_text())["version"]
    problems = judge(role, device_id, lines, hub, version, rw)
    root.unlink(missing_ok=True)
    screen = screen_state(role, lines)
    if screen:
        times[f"{role}_screen"] = screen
        log(f"{role}: screen: {screen}")
    if problems:
        log(f"{role}: FAILED ({elapsed:.0f} s)\n  - " + "\n  - ".join(problems) + f"\n  report: {rw / 'report.lines'}"
            f"\n  console: {rw / 'console.log'}")
        return False
    log(f"{role}: OK ({elapsed:.0f} s): installed from its bundle, unit active, no restart, hardened, online")
    return True


def update_releases(hub: Hub, work: Path, times: dict) -> None:
    """The counter's update test: a good release, and one whose counter daemon cannot start."""
    t1 = time.monotonic()
    for version, sabotage in ((hub.good, None), (hub.bad, BROKEN_COUNTER)):
        wheel = wheel_of_checkout(work, version=version, sabotage=sabotage)
        make_release(wheel, releases=hub.releases, ca_key=hub.registry.certs_dir / "ca.key",
                     pythons=("3.11",), cache=CACHE / "pip-cache", latest=False)
    times["update_releases_s"] = round(time.monotonic() - t1, 1)


class LoadSampler(threading.Thread):
    """The host's 1-minute load average every 30 s: the machine may be shared, and the times say so."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[float] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while True:
            self.samples.append(os.getloadavg()[0])
            if self.halt.wait(30):
                return

    def summary(self) -> dict:
        s = self.samples or [os.getloadavg()[0]]
        return {"load1_mean": round(sum(s) / len(s), 2), "load1_max": round(max(s), 2), "load_samples": len(s)}


def serve_releases(hub: Hub) -> None:
    from boxes.release import serve

    hub.http_port = free_port()
    hub.releases.mkdir(parents=True, exist_ok=True)
    t = threading.Thread(target=serve, args=(hub.releases, "127.0.0.1", hub.http_port), daemon=True)
    t.start()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="images/build", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--role", default="all", help="a role from boxes/roles.toml, or all")
    p.add_argument("--boot-check", action="store_true", help="boot it under qemu and check it from the host")
    p.add_argument("--work", help="working directory (default: a fresh one under the cache)")
    p.add_argument("--timeout", type=float, default=float(os.environ.get("MOTCUA_BOOT_TIMEOUT", 2700)),
                   help="seconds one VM may run")
    p.add_argument("--jobs", type=int, default=int(os.environ.get("STANDIN_JOBS", 3)),
                   help="boxes booted at once (each VM has one virtual CPU: STANDIN_SMP)")
    args = p.parse_args(argv)
    roles = [r for r, spec in load_roles().items() if spec.units()] if args.role == "all" else args.role.split(",")
    # the longest first (the counter's update test, the central box's venv, the kiosk's printer), so that
    # the last boxes to start are the short ones and the end of the run is not one long box alone
    roles.sort(key=lambda r: LONGEST_FIRST.index(r) if r in LONGEST_FIRST else len(LONGEST_FIRST))
    times: dict = {}
    t_all = time.monotonic()
    load = LoadSampler()
    load.start()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as one:
        # the base is built (once) while this host plays the central box and makes the releases
        building = one.submit(base_rootfs, times)
        if not args.boot_check:
            base = building.result()
            log(f"base root filesystem: {base}")
            return 0
        work = Path(args.work) if args.work else CACHE / "work"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        hub = Hub(work / "central")  # the central box played by this host (not the "hub" role's own VM folder)
        ok = False
        try:
            hub.start()
            serve_releases(hub)
            wheel = wheel_of_checkout(work)
            release = release_of(hub, wheel, times)
            log(f"release {release.name} in {release} ({times['release_s']} s)")
            if "counter" in roles:
                update_releases(hub, work, times)
            base = building.result()
            log(f"base root filesystem: {base}"
                + (f" (built in {times['rootfs_s']} s)" if "rootfs_s" in times else " (cached)"))
            disk = base_disk(base, times)
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                results = dict(zip(roles, pool.map(
                    lambda r: boot_check(r, disk, base, work, hub, release, times, args.timeout), roles)))
            ok = all(results.values())
            log("roles: " + ", ".join(f"{r} {'OK' if v else 'FAILED'} ({times.get(f'{r}_boot_check_s')} s)"
                                      for r, v in results.items()))
        finally:
            hub.stop()
    times["total_s"] = round(time.monotonic() - t_all, 1)
    load.halt.set()
    print(json.dumps({"ok": ok, "roles": roles, "jobs": args.jobs, **times, **load.summary(),
                      "cpus": os.cpu_count()}), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
