"""`motcua broker …` as a technician runs it, and every shipped Mosquitto config starting for real."""

from __future__ import annotations

import getpass
import subprocess
import sys

import pytest

from brokerkit import NOT_AUTHORIZED, Refused, connect
from daemonkit import wait_until
from motcua.broker import passwords
from motcua.broker.site import RegistryError, SiteBroker
from motcua.cli import main as motcua
from motcua.localbroker import LocalBroker, free_port


def test_init_add_remove_and_the_files_that_follow(tmp_path, capsys):
    d = tmp_path / "broker"
    assert motcua(["broker", "init", "--site", "hcm-q1", "--dir", str(d), "--data-dir", str(tmp_path / "data")]) == 0
    assert motcua(["broker", "add-device", "counter", "counter-3", "--counter", "3", "--dir", str(d)]) == 0
    assert motcua(["broker", "add-device", "kiosk", "kiosk-1", "--dir", str(d)]) == 0
    out = capsys.readouterr().out
    assert "secrets/counter-3.password" in out and "systemctl reload motcua-broker" in out

    sb = SiteBroker(d)
    acl = sb.acl_path.read_text()
    assert "user counter-3\ntopic write motcua/v1/hcm-q1/request/counter-3/counter/3/+" in acl
    assert "pattern write motcua/v1/hcm-q1/device/%u/state" in acl
    entries = dict(line.split(":", 1) for line in sb.passwd_path.read_text().splitlines())
    assert set(entries) == {"dispatcher", "counter-3", "kiosk-1"}
    assert passwords.verify(f"counter-3:{entries['counter-3']}", sb.password_of("counter-3"))
    assert (sb.secret_path("kiosk-1").stat().st_mode & 0o777) == 0o600

    # mistakes get a clear message and change nothing
    for argv, words in [
        (["pad", "pad-9"], "needs a counter number"),
        (["kiosk", "kiosk-2", "--counter", "2"], "not tied to a counter"),
        (["kiosk", "kiosk-1"], "already registered as kiosk; --rotate"),
        (["pad", "kiosk-1", "--counter", "1"], "already registered as kiosk; remove it first"),
        (["kiosk", "bad/id"], "should match pattern"),
    ]:
        assert motcua(["broker", "add-device", *argv, "--dir", str(d)]) == 2
        assert words in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse refuses an unknown role before anything happens
        motcua(["broker", "add-device", "laptop", "x", "--dir", str(d)])
    assert sb.acl_path.read_text() == acl

    old = sb.password_of("kiosk-1")
    assert motcua(["broker", "add-device", "kiosk", "kiosk-1", "--rotate", "--dir", str(d)]) == 0
    assert sb.password_of("kiosk-1") != old

    assert motcua(["broker", "remove-device", "counter-3", "--dir", str(d)]) == 0
    assert "counter-3" not in sb.acl_path.read_text() and "counter-3" not in sb.passwd_path.read_text()
    assert not sb.secret_path("counter-3").exists()
    assert motcua(["broker", "list", "--dir", str(d)]) == 0
    assert "kiosk-1" in capsys.readouterr().out


def test_a_broken_registry_is_named(tmp_path):
    sb = SiteBroker(tmp_path)
    sb.init("hall")
    sb.registry_path.write_text('site = "hall"\n[[devices]]\nid = "pad-1"\nrole = "pad"\ncountr = 1\n')
    with pytest.raises(RegistryError, match=r"devices\.0\.countr"):
        sb.load()
    with pytest.raises(RegistryError, match="does not exist"):
        SiteBroker(tmp_path / "nowhere").load()


def test_roles_are_listed(capsys):
    assert motcua(["broker", "roles"]) == 0
    out = capsys.readouterr().out
    for role in ("dispatcher", "counter", "pad", "kiosk", "board", "announcer", "operator"):
        assert f"\n{role} " in "\n" + out


def test_the_config_init_writes_starts_and_locks_the_door(tmp_path):
    """The very file `motcua broker init` renders, with certificates from gen-certs, run by Mosquitto."""
    d, local, tls, certs = tmp_path / "etc", free_port(), free_port(), free_port()
    assert motcua(["broker", "init", "--site", "s1", "--dir", str(d), "--data-dir", str(tmp_path / "data"),
                   "--local-port", str(local), "--tls-port", str(tls), "--client-cert-port", str(certs)]) == 0
    assert motcua(["broker", "add-device", "pad", "pad-1", "--counter", "1", "--dir", str(d)]) == 0
    assert motcua(["broker", "gen-certs", "--dir", str(d), "--host", "localhost", "--host", "127.0.0.1"]) == 0
    (tmp_path / "data").mkdir()
    for p in (tmp_path, d, d / "certs", tmp_path / "data"):
        p.chmod(0o755)
    # as systemd runs it, but as this user rather than mosquitto
    text = (d / "mosquitto.conf").read_text() + f"\nuser {getpass.getuser()}\n"
    broker = LocalBroker(tmp_path / "data", port=local, render=lambda b: text).start()
    try:
        sb = SiteBroker(d)
        pad = connect(local, "pad-1", sb.password_of("pad-1"))
        assert pad.publish("motcua/v1/s1/request/pad-1/rating/2") == NOT_AUTHORIZED
        pad.close()
        tls_pad = connect(tls, "pad-1", sb.password_of("pad-1"), tls={"ca": d / "certs" / "ca.crt"})
        tls_pad.close()
        cert = {"ca": d / "certs" / "ca.crt", "cert": d / "certs/devices/pad-1.crt", "key": d / "certs/devices/pad-1.key"}
        connect(certs, None, None, tls=cert).close()
        with pytest.raises(Refused):
            connect(local, None, None)
    finally:
        broker.stop()


def test_mosquitto_rejects_nothing_in_the_shipped_templates(tmp_path):
    """`mosquitto -c` on each template as rendered: a typo in an option makes it exit at once."""
    from motcua.broker.configs import BridgeSettings, render_bridge, render_site

    sb = SiteBroker(tmp_path / "etc")
    sb.init("s1")
    from motcua.broker.certs import SiteCA

    ca = SiteCA(sb.certs_dir, "s1")
    ca.ensure()
    ca.server(["localhost"])
    (sb.conf_d / "province-bridge.conf").write_text(render_bridge(BridgeSettings(
        site="s1", remote_host="127.0.0.1", remote_port=free_port(), remote_ca=ca.cert_path, remote_password="x")))
    for p in (tmp_path, sb.directory, sb.certs_dir):
        p.chmod(0o755)
    tls, certs = free_port(), free_port()
    b = LocalBroker(tmp_path / "data", render=lambda b: render_site(
        sb.directory, data_dir=b.workdir, local_port=b.port, tls_port=tls, cert_port=certs,
        log_dest=f"file {b.workdir}/mosquitto.log", user=getpass.getuser())).start()
    try:  # start() raised already if Mosquitto had refused an option; it is up with the bridge loaded
        assert b.proc.poll() is None
    finally:
        b.stop()


def test_the_development_broker_for_trying_a_hall_by_hand(tmp_path):
    """`motcua broker dev`: logins in env files, and it reloads by itself when a device is added."""
    import os

    port, d = free_port(), tmp_path / "dev"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    proc = subprocess.Popen([sys.executable, "-m", "motcua.cli", "broker", "dev", "--port", str(port), "--dir", str(d)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = iter(proc.stdout.readline, "")
        assert next(line for line in lines if "logins, as environment variables" in line)
        tech = dict(line.strip().split("=", 1) for line in (d / "tech.env").read_text().splitlines())
        peer = connect(port, tech["MOTCUA_MQTT__USERNAME"], tech["MOTCUA_MQTT__PASSWORD"])
        me = tech["MOTCUA_MQTT__USERNAME"]
        assert peer.publish(f"motcua/v1/demo/request/{me}/ticket/issue") in (0, 0x10)
        assert peer.publish(f"motcua/v1/demo/request/{me}/rating/1") == NOT_AUTHORIZED
        peer.close()
        assert motcua(["broker", "add-device", "pad", "pad-1", "--counter", "1", "--dir", str(d / "etc")]) == 0
        assert next(line for line in lines if "broker reloaded" in line)
        password = SiteBroker(d / "etc").password_of("pad-1")
        pads = []

        def pad_logs_in() -> bool:  # the reload is asynchronous inside Mosquitto, with no event: try the login
            try:
                pads.append(connect(port, "pad-1", password))
                return True
            except Refused:
                return False

        wait_until(pad_logs_in, 10, "the dev broker to take the new device")
        pad = pads[0]
        assert pad.publish("motcua/v1/demo/request/pad-1/rating/1") in (0, 0x10)
        pad.close()
    finally:
        proc.terminate()
        assert proc.wait(15) == 0


def test_a_missing_password_file_stops_a_daemon_with_the_key_named(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update(MOTCUA_MQTT__PASSWORD_FILE=str(tmp_path / "nowhere.password"), MOTCUA_DATABASE=str(tmp_path / "h.db"))
    from motcua.localbroker import REPO

    r = subprocess.run([sys.executable, "-m", "dispatcher", "--config", str(REPO / "examples/hall.toml")],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 78, r.stderr
    assert "mqtt.password_file" in r.stderr and "nowhere.password" in r.stderr and "Traceback" not in r.stderr


def test_a_port_already_taken_is_said_plainly(tmp_path, broker):
    with pytest.raises(RuntimeError, match=f"port {broker.port} is already in use"):
        LocalBroker(tmp_path / "second", port=broker.port).start()
