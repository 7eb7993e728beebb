"""The device runtime as a technician meets it: systemd, journald, availability, health, settings."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from motcua.protocol import Health
from motcua.runtime import SystemdNotifier
from motcua.settings import DeviceSettings, SettingsError, load_settings

from daemonkit import SAMPLE_HALL, DispatcherProcess, Watcher
from dispatcher.config import DispatcherSettings


def test_systemd_ready_status_watchdog_and_journald_priorities(broker, site, tmp_path):
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(10)
    d = DispatcherProcess(broker, site, tmp_path)
    d.start(extra_env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "600000", "JOURNAL_STREAM": "8:12345"})
    try:
        seen: list[str] = []
        while not (any("READY=1" in s for s in seen) and sum("WATCHDOG=1" in s for s in seen) >= 2):
            seen.append(sock.recv(4096).decode())
        ready = next(s for s in seen if "READY=1" in s)
        assert "STATUS=dispatcher for Trung tâm Phục vụ hành chính công phường Long Châu" in ready
        assert any(s.startswith("STATUS=dispatcher dispatcher: connected") for s in seen)
    finally:
        d.stop()
        sock.close()
    lines = [line for line in d.log().splitlines() if line.strip()]
    assert lines and all(line[:3] in ("<6>", "<4>", "<3>", "<7>") for line in lines), lines[:5]


def test_notifier_speaks_to_abstract_sockets_and_is_silent_outside_systemd():
    name = f"motcua-test-{time.monotonic_ns()}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind("\0" + name)
    server.settimeout(5)
    n = SystemdNotifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "2000000"})
    assert n.watchdog_s == 2.0
    n.stopping("bye\nnow")
    assert server.recv(1024) == b"STOPPING=1\nSTATUS=bye now"
    server.close()
    quiet = SystemdNotifier({})
    assert not quiet.enabled and quiet.watchdog_s is None
    quiet.ready("nothing happens")  # no socket: a no-op, never an error


def test_last_will_and_health(broker, site, tmp_path):
    avail = Watcher(broker, f"motcua/v1/{site}/device/dispatcher/+")
    d = DispatcherProcess(broker, site, tmp_path).start()
    try:
        msg = avail.wait_for(lambda m: m.topic.endswith("/health"))
        health = Health.model_validate_json(msg.payload)
        assert health.status == "ok" and health.checks["database"] == "ok" and health.mqtt_connected
        assert health.rss_mb and health.rss_mb > 5
    finally:
        d.kill()  # no goodbye: the broker publishes the last will
    avail.wait_for(lambda m: m.topic.endswith("/availability") and m.payload == b"offline")
    late = Watcher(broker, f"motcua/v1/{site}/device/dispatcher/availability")
    assert late.wait_for(lambda m: True).payload == b"offline"  # and keeps it retained
    late.close()
    avail.close()


def test_missing_broker_does_not_block_start_up(site, tmp_path):
    """READY=1 reaches systemd with no broker anywhere; the daemon comes online when the broker appears."""
    from motcua.localbroker import LocalBroker

    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(15)
    b = LocalBroker(tmp_path / "late-broker")
    d = DispatcherProcess(b, site, tmp_path)
    d.start(wait=False, extra_env={"NOTIFY_SOCKET": str(sock_path)})
    try:
        while "READY=1" not in sock.recv(4096).decode():
            pass
        b.start()
        w = Watcher(b, f"motcua/v1/{site}/device/dispatcher/availability")
        w.wait_for(lambda m: m.payload == b"online", timeout=10)
        w.close()
    finally:
        d.stop()
        b.stop()
        sock.close()


# ------------------------------------------------------------------ settings


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_hall_loads(monkeypatch):
    monkeypatch.setenv("MOTCUA_MQTT__PORT", "1884")
    s = load_settings(DispatcherSettings, "dispatcher", SAMPLE_HALL)
    assert s.mqtt.port == 1884 and s.mqtt.host == "127.0.0.1"  # env overrides the file, file the defaults
    assert len(s.hall.areas) == 8 and len(s.hall.counters) == 10
    assert s.hall.areas[0].name == "Tư pháp - hộ tịch"


@pytest.mark.parametrize("text, key", [
    ('device_id = "x"\n[mqtt]\nhots = "10.0.0.2"\n', "mqtt.hots"),
    ('device_id = "x"\nhealth_interval = 5\n', "health_interval"),
    ('device_id = "x"\n[mqtt]\nport = "eighteen"\n', "mqtt.port"),
])
def test_a_typo_names_its_key(tmp_path, text, key):
    with pytest.raises(SettingsError) as err:
        load_settings(DeviceSettings, "test", write(tmp_path / "t.toml", text))
    assert key in str(err.value) and "t.toml" in str(err.value)


def test_nested_hall_typo_stops_the_daemon_with_ex_config(tmp_path):
    text = SAMPLE_HALL.read_text(encoding="utf-8").replace("priority_every = 3", "priority_evry = 3")
    bad = write(tmp_path / "hall.toml", text)
    r = subprocess.run([sys.executable, "-m", "dispatcher", "--config", str(bad)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 78
    assert "hall.rules.priority_evry: unknown key" in r.stderr


def test_env_typos_are_errors_too(monkeypatch, tmp_path):
    monkeypatch.setenv("MOTCUA_MQTT__HOTS", "10.0.0.2")
    with pytest.raises(SettingsError, match="mqtt.hots"):
        load_settings(DeviceSettings, "test", None, device_id="x")
    monkeypatch.delenv("MOTCUA_MQTT__HOTS")
    monkeypatch.setenv("MOTCUA_BROKER", "10.0.0.2")
    with pytest.raises(SettingsError, match="MOTCUA_BROKER"):
        load_settings(DeviceSettings, "test", None, device_id="x")


def test_bad_files_are_named(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(DeviceSettings, "test", tmp_path / "nope.toml")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(DeviceSettings, "test", write(tmp_path / "broken.toml", "site = \n"))
    text = SAMPLE_HALL.read_text(encoding="utf-8").replace('areas = ["VH", "KD"]', 'areas = ["VH", "QQ"]')
    with pytest.raises(SettingsError, match="counter 10 serves unknown area 'QQ'"):
        load_settings(DispatcherSettings, "dispatcher", write(tmp_path / "h.toml", text))
