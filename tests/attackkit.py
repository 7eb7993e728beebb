"""A production hall to attack: the site broker as `motcua broker init / add-device / gen-certs` make it,
Mosquitto running the rendered config, and the real dispatcher daemon on its loopback listener.

Attackers are plain paho clients logged in with a real device's password: whatever a compromised
box could send, they send. ``Intruder.request`` publishes raw bytes on any topic, with any v5
response topic, and collects what arrives on every reply topic it can read.
"""

from __future__ import annotations

import getpass
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from motcua.broker.site import SiteBroker
from motcua.cli import main as motcua
from motcua.localbroker import REPO, LocalBroker, free_port, stop_process

SITE = "hcm-q1"
# (role, id, counter): one or two of each kind a hall has
DEVICES = [
    ("dispatcher", "dispatcher", None), ("kiosk", "kiosk-1", None), ("kiosk", "kiosk-2", None),
    ("counter", "counter-1", 1), ("counter", "counter-2", 2), ("pad", "pad-1", 1), ("pad", "pad-2", 2),
    ("board", "board-1", None), ("announcer", "announcer", None), ("operator", "tech-1", None),
    ("web", "web-1", None),
]


class ProductionHall:
    def __init__(self, workdir: Path, extra_devices: list[tuple[str, str, int | None]] = (), **dispatcher_env: str):
        self.workdir = workdir
        self.dir = workdir / "etc"
        self.local, self.tls, self.certs = free_port(), free_port(), free_port()
        assert motcua(["broker", "init", "--site", SITE, "--dir", str(self.dir), "--data-dir", str(workdir / "data"),
                       "--local-port", str(self.local), "--tls-port", str(self.tls),
                       "--client-cert-port", str(self.certs)]) == 0
        self.devices = [*DEVICES, *extra_devices]
        for role, device_id, counter in self.devices[1:]:  # init registers the dispatcher
            args = ["broker", "add-device", role, device_id, "--dir", str(self.dir)]
            if counter is not None:
                args += ["--counter", str(counter)]
            assert motcua(args) == 0
        assert motcua(["broker", "gen-certs", "--dir", str(self.dir), "--host", "localhost", "--host", "127.0.0.1"]) == 0
        (workdir / "data").mkdir(exist_ok=True)
        for p in (workdir, self.dir, self.dir / "certs", workdir / "data"):
            p.chmod(0o755)
        self.sb = SiteBroker(self.dir)
        self.dispatcher_env = dispatcher_env
        self.broker: LocalBroker | None = None
        self.daemon: subprocess.Popen | None = None
        self.log_path = workdir / "dispatcher.log"
        self.database = workdir / "hall.db"

    # ------------------------------------------------------------------ lifecycle

    def start_broker(self) -> ProductionHall:
        text = (self.dir / "mosquitto.conf").read_text() + f"\nuser {getpass.getuser()}\n"
        self.broker = LocalBroker(self.workdir / "data", port=self.local, render=lambda b: text).start()
        return self

    def start(self) -> ProductionHall:
        self.start_broker()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
        env.update(MOTCUA_SITE=SITE, MOTCUA_MQTT__PORT=str(self.local), MOTCUA_HEALTH_INTERVAL_S="1",
                   MOTCUA_MQTT__PASSWORD_FILE=str(self.sb.secret_path("dispatcher")),
                   MOTCUA_DATABASE=str(self.database), MOTCUA_HALL__OPENING_HOURS="[]", **self.dispatcher_env)
        self._log = open(self.log_path, "a")
        self.daemon = subprocess.Popen([sys.executable, "-m", "dispatcher", "--config", str(REPO / "examples/hall.toml")],
                                       env=env, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT)
        watcher = self.login("tech-1")
        try:  # up when its retained hall config is there
            watcher.subscribe(self.topic("hall/config"))
            watcher.wait_message(lambda m: m.topic == self.topic("hall/config"), 30)
        finally:
            watcher.close()
        return self

    def stop(self) -> None:
        if self.daemon is not None:
            stop_process(self.daemon, timeout=15)
            self._log.close()
        if self.broker is not None:
            self.broker.stop()

    def reload_broker(self) -> None:
        """What `systemctl reload motcua-broker` does."""
        self.broker.reload()

    # ------------------------------------------------------------------ helpers

    def topic(self, rest: str) -> str:
        return f"motcua/v1/{SITE}/{rest}"

    def password(self, device_id: str) -> str:
        return self.sb.password_of(device_id)

    def login(self, device_id: str, *, protocol=mqtt.MQTTv5, **kw) -> Intruder:
        return Intruder(self, device_id, protocol=protocol, **kw)

    def fuzz_client(self, login: str, protocol, on_message, on_publish) -> mqtt.Client:
        """A fuzzer's paho client: ``login``'s own password, subscribed to its reply topic before it is returned,
        at most 50 publishes in flight and none queued beyond them (the fuzzer paces itself on the acks)."""
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=login, protocol=protocol)
        c.username_pw_set(login, self.password(login))
        c.max_inflight_messages_set(50)
        c.max_queued_messages_set(0)
        ready = threading.Event()
        c.on_connect = lambda c, u, f, rc, p: c.subscribe(self.topic(f"device/{login}/reply"), qos=1)
        c.on_subscribe = lambda *a: ready.set()
        c.on_message = on_message
        c.on_publish = on_publish
        c.connect("127.0.0.1", self.local, keepalive=60)
        c.loop_start()
        if not ready.wait(10):
            c.loop_stop()
            raise AssertionError(f"{login} could not log in and subscribe to its replies")
        return c

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def db(self):
        import sqlite3

        return sqlite3.connect(f"file:{self.database}?mode=ro", uri=True)


class Intruder:
    """A paho client with a real device's login, sending whatever it likes."""

    def __init__(self, hall: ProductionHall, device_id: str, *, protocol=mqtt.MQTTv5, port: int | None = None,
                 client_id: str | None = None, tls: dict | None = None, password: str | None = None,
                 connect_timeout: float = 10.0):
        self.hall, self.device_id = hall, device_id
        self.messages: queue.Queue = queue.Queue()
        self.acks: queue.Queue = queue.Queue()
        self.disconnects: queue.Queue = queue.Queue()
        v5 = protocol == mqtt.MQTTv5
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or device_id, protocol=protocol)
        if password is not None or tls is None or "cert" not in tls:
            self.c.username_pw_set(device_id, password if password is not None else hall.password(device_id))
        if tls:
            self.c.tls_set(ca_certs=str(tls["ca"]), certfile=tls.get("cert") and str(tls["cert"]),
                           keyfile=tls.get("key") and str(tls["key"]))
        connected: queue.Queue = queue.Queue()
        self.c.on_connect = lambda c, u, f, rc, p: connected.put(rc)
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_publish = lambda c, u, mid, rc, p: self.acks.put((mid, rc))
        self.c.on_disconnect = lambda c, u, f, rc, p: self.disconnects.put(rc)
        self.c.reconnect_delay_set(30, 60)  # an attacker that was knocked off stays off for the test
        self.c.connect("127.0.0.1", port or hall.local, keepalive=30)
        self.c.loop_start()
        try:
            rc = connected.get(timeout=connect_timeout)
        except queue.Empty:
            self.close()
            raise
        if rc.is_failure if v5 else rc != 0:
            self.close()
            raise ConnectionRefusedError(str(rc))

    def subscribe(self, topic_filter: str) -> None:
        done: queue.Queue = queue.Queue()
        self.c.on_subscribe = lambda c, u, mid, rcs, p: done.put(rcs)
        self.c.subscribe(topic_filter, qos=1)
        done.get(timeout=10)

    def publish(self, topic: str, payload: bytes | str | dict, *, response_topic: str | None = None,
                correlation: bytes | None = None) -> int:
        """Returns the broker's PUBACK reason code."""
        if isinstance(payload, dict):
            payload = json.dumps(payload)
        props = None
        if response_topic is not None or correlation is not None:
            props = Properties(PacketTypes.PUBLISH)
            if response_topic is not None:
                props.ResponseTopic = response_topic
            if correlation is not None:
                props.CorrelationData = correlation
        info = self.c.publish(topic, payload, qos=1, properties=props)
        while True:
            mid, rc = self.acks.get(timeout=10)
            if mid == info.mid:
                return getattr(rc, "value", rc)

    def wait_message(self, match, timeout: float = 10.0) -> mqtt.MQTTMessage:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching message")
            msg = self.messages.get(timeout=left)
            if match(msg):
                return msg

    def reply_to(self, command_id: str, timeout: float = 10.0) -> dict:
        msg = self.wait_message(lambda m: m.topic.endswith("/reply") and _cid(m) == command_id, timeout)
        return json.loads(msg.payload)

    def drain(self, seconds: float = 0.5) -> list[mqtt.MQTTMessage]:
        got, deadline = [], time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                got.append(self.messages.get(timeout=left))
            except queue.Empty:
                break
        return got

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _cid(msg: mqtt.MQTTMessage) -> str | None:
    try:
        return json.loads(msg.payload).get("command_id")
    except (ValueError, AttributeError):
        return None
