"""How long a valid device waits to log in while someone without a login floods the TLS port.

Two network namespaces of our own joined by a veth pair, with loopback-range addresses that exist only inside
them (127.77.0.1 the broker's box; 127.77.0.2 the flooder; 127.77.0.3 a valid kiosk). The broker runs the
production config from `motcua broker init` with the file-descriptor limit of systemd/motcua-broker.service.
The flooder opens N TCP connections to 8883 and sends 3 bytes on each (the start of a TLS record), then holds
them; meanwhile the kiosk logs in over TLS with its password, and we time CONNECT to CONNACK. Run once without
the nftables ruleset and once with systemd/motcua-broker.nft loaded in the broker's namespace.

Needs root, ip(8) and nft(8). Prints the figures and ends with one JSON line.

    .venv/bin/python -m bench.flood [--connections 4000] [--cap 30]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RULESET = REPO / "systemd" / "motcua-broker.nft"
SERVER, FLOODER, DEVICE = "127.77.0.1", "127.77.0.2", "127.77.0.3"
TLS_PORT = 8883


def available() -> str | None:
    """Why this cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root for network namespaces"
    for tool in ("ip", "nft", "mosquitto"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = f"mcprobe{os.getpid()}"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True).returncode != 0:
        return "cannot create network namespaces here"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def sh(*cmd: str, ns: str | None = None) -> None:
    full = ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)
    subprocess.run(full, check=True, capture_output=True)


class Namespaces:
    def __init__(self) -> None:
        tag = f"{os.getpid() % 100000}"
        self.srv, self.cli = f"mcsrv{tag}", f"mccli{tag}"

    def __enter__(self) -> Namespaces:
        for ns in (self.srv, self.cli):
            sh("ip", "netns", "add", ns)
            sh("ip", "link", "set", "lo", "up", ns=ns)
        veth_s, veth_c = f"vs{self.srv[-8:]}", f"vc{self.cli[-8:]}"
        sh("ip", "link", "add", veth_s, "netns", self.srv, "type", "veth", "peer", "name", veth_c, "netns", self.cli)
        for ns, dev, addrs in ((self.srv, veth_s, [SERVER]), (self.cli, veth_c, [FLOODER, DEVICE])):
            # 127/8 off the lo interface is dropped unless route_localnet says otherwise
            sh("sysctl", "-q", "-w", f"net.ipv4.conf.{dev}.route_localnet=1", ns=ns)
            sh("sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1", ns=ns)
            for a in addrs:
                sh("ip", "addr", "add", f"{a}/16", "dev", dev, ns=ns)
            sh("ip", "link", "set", dev, "up", ns=ns)
        return self

    def __exit__(self, *exc) -> None:
        for ns in (self.srv, self.cli):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def make_site(work: Path) -> Path:
    from motcua.cli import main as motcua

    d = work / "etc"
    quiet = open(os.devnull, "w")
    old, sys.stdout = sys.stdout, quiet
    try:
        assert motcua(["broker", "init", "--site", "flood", "--dir", str(d), "--data-dir", str(work / "data"),
                       "--tls-port", str(TLS_PORT)]) == 0
        assert motcua(["broker", "add-device", "kiosk", "kiosk-1", "--dir", str(d)]) == 0
        assert motcua(["broker", "gen-certs", "--dir", str(d), "--host", SERVER, "--no-devices"]) == 0
    finally:
        sys.stdout = old
    (work / "data").mkdir()
    conf = (d / "mosquitto.conf").read_text().replace("log_dest syslog", f"log_dest file {work}/mosquitto.log")
    (work / "mosquitto.conf").write_text(conf + "\nuser root\n")
    return d


FLOOD = r"""
import resource, socket, sys, time
n, src, dst, port, hold = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
resource.setrlimit(resource.RLIMIT_NOFILE, (n + 100, n + 100))
socks, refused = [], 0
for _ in range(n):
    s = socket.socket()
    s.setblocking(False)
    s.bind((src, 0))
    try:
        s.connect((dst, port))
    except BlockingIOError:
        pass
    socks.append(s)
time.sleep(1.0)
held = 0
for s in socks:
    try:
        s.send(b"\x16\x03\x01")  # the first 3 bytes of a TLS handshake record, and nothing more
        held += 1
    except OSError:
        refused += 1
print(f"held {held} refused {refused}", flush=True)
time.sleep(hold)
"""

LOGIN = r"""
import ssl, sys, time, queue
import paho.mqtt.client as mqtt
src, dst, port, ca, password, cap = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], float(sys.argv[6])
got = queue.Queue()
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="kiosk-1", protocol=mqtt.MQTTv5)
c.username_pw_set("kiosk-1", password)
c.tls_set(ca_certs=ca)
c.on_connect = lambda *a: got.put(a[3])
t0 = time.monotonic()
try:
    c.connect(dst, port, keepalive=30, bind_address=src)
    c.loop_start()
    rc = got.get(timeout=max(0.1, cap - (time.monotonic() - t0)))
    print(f"{time.monotonic() - t0:.3f} {rc}", flush=True)
except Exception as exc:
    print(f"{time.monotonic() - t0:.3f} failed:{type(exc).__name__}", flush=True)
"""


def login_wait(ns: Namespaces, site: Path, cap: float) -> tuple[float, bool]:
    password = (site / "secrets" / "kiosk-1.password").read_text().strip()
    out = subprocess.run(["ip", "netns", "exec", ns.cli, sys.executable, "-c", LOGIN, DEVICE, SERVER, str(TLS_PORT),
                          str(site / "certs" / "ca.crt"), password, str(cap)],
                         capture_output=True, text=True, timeout=cap + 30)
    line = (out.stdout.strip().splitlines() or ["nan none"])[-1]
    seconds, outcome = line.split(" ", 1)
    return float(seconds), outcome.strip() == "Success"


def run(connections: int, cap: float, with_rules: bool, work: Path) -> dict:
    site = make_site(work)
    with Namespaces() as ns:
        if with_rules:
            sh("nft", "-f", str(RULESET), ns=ns.srv)
        # the unit's LimitNOFILE
        broker = subprocess.Popen(["ip", "netns", "exec", ns.srv, "prlimit", "--nofile=4096:4096", "mosquitto",
                                   "-c", str(work / "mosquitto.conf")], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                if subprocess.run(["ip", "netns", "exec", ns.cli, "bash", "-c",
                                   f"exec 3<>/dev/tcp/{SERVER}/{TLS_PORT}"], capture_output=True).returncode == 0:
                    break
                time.sleep(0.1)
            quiet, ok_quiet = login_wait(ns, site, cap)
            flood = subprocess.Popen(["ip", "netns", "exec", ns.cli, sys.executable, "-c", FLOOD, str(connections),
                                      FLOODER, SERVER, str(TLS_PORT), str(cap + 20)],
                                     stdout=subprocess.PIPE, text=True)
            held = flood.stdout.readline().strip()
            try:
                loaded, ok = login_wait(ns, site, cap)
            finally:
                flood.kill()
                flood.wait()
        finally:
            broker.terminate()
            broker.wait(10)
    return {"rules": with_rules, "connections": connections, "flood": held, "quiet_login_s": round(quiet, 3),
            "quiet_ok": ok_quiet, "flood_login_s": round(loaded, 3), "flood_login_ok": ok, "cap_s": cap}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--connections", type=int, default=4300)
    p.add_argument("--cap", type=float, default=30.0, help="give up waiting for the login after this long")
    args = p.parse_args(argv)
    why = available()
    if why:
        print(f"flood bench skipped: {why}")
        print(json.dumps({"skipped": why}))
        return 0
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    results = []
    for with_rules in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            r = run(args.connections, args.cap, with_rules, Path(tmp))
        results.append(r)
        state = f"{r['flood_login_s']} s" if r["flood_login_ok"] else f"no login within {r['flood_login_s']} s"
        print(f"{'with' if with_rules else 'without'} the nftables ruleset: {r['flood']}; valid login "
              f"{r['quiet_login_s']} s when quiet, {state} during the flood")
    print(json.dumps({"flood": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
