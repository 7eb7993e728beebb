"""Talk to a locked-down Mosquitto the way a device (or an intruder) would: raw paho, MQTT v5.

Returns what the broker answered (CONNACK, PUBACK and SUBACK reason codes,
deliveries) so the tests can assert on the broker's own words.
"""

from __future__ import annotations

import getpass
import itertools
import queue
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

from motcua.broker.configs import render_site
from motcua.broker.site import SiteBroker
from motcua.localbroker import LocalBroker, free_port

NOT_AUTHORIZED = 0x87
_ids = itertools.count(1)


class Refused(Exception):
    def __init__(self, reason):
        super().__init__(f"connection refused: {reason}")
        self.reason = reason


@dataclass
class Peer:
    """One MQTT client session; ``publish`` returns the PUBACK reason code."""

    client: mqtt.Client
    received: queue.Queue = field(default_factory=queue.Queue)
    disconnected: threading.Event = field(default_factory=threading.Event)
    assigned_client_id: str | None = None

    def publish(self, topic: str, payload: bytes = b"{}", qos: int = 1, timeout: float = 5.0, retain=False) -> int:
        done: queue.Queue = queue.Queue()
        self.client.on_publish = lambda c, u, mid, rc, props: done.put((mid, rc))
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        mid, rc = done.get(timeout=timeout)
        assert mid == info.mid
        return rc.value

    def subscribe(self, topic: str, timeout: float = 5.0) -> list[int]:
        done: queue.Queue = queue.Queue()
        self.client.on_subscribe = lambda c, u, mid, rcs, props: done.put([r.value for r in rcs])
        self.client.subscribe(topic, qos=1)
        return done.get(timeout=timeout)

    def next_message(self, timeout: float = 5.0) -> mqtt.MQTTMessage:
        return self.received.get(timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(port: int, username: str | None, password: str | None, *, client_id: str | None = None,
            tls: dict | None = None, timeout: float = 5.0, persistent: bool = False) -> Peer:
    """Connect, or raise :class:`Refused` with the CONNACK reason (or the TLS error)."""
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"probe-{next(_ids)}",
                    protocol=mqtt.MQTTv5)
    if username is not None:
        c.username_pw_set(username, password)
    if tls:
        c.tls_set(ca_certs=str(tls["ca"]), certfile=tls.get("cert") and str(tls["cert"]),
                  keyfile=tls.get("key") and str(tls["key"]), cert_reqs=ssl.CERT_REQUIRED)
    peer = Peer(c)
    answer: queue.Queue = queue.Queue()

    def on_connect(client, userdata, flags, reason_code, props):
        if props is not None and getattr(props, "AssignedClientIdentifier", None):
            peer.assigned_client_id = props.AssignedClientIdentifier
        answer.put(reason_code)

    def on_disconnect(client, userdata, flags, reason_code, props):
        peer.disconnected.set()
        answer.put(f"disconnected before CONNACK ({reason_code})")

    c.on_connect = on_connect
    c.on_message = lambda client, userdata, msg: peer.received.put(msg)
    c.on_disconnect = on_disconnect
    c.reconnect_delay_set(0.1, 0.5)
    props = None
    if persistent:  # the broker keeps its subscriptions and queues for it while it is away
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 600
    try:
        c.connect("127.0.0.1", port, keepalive=30, clean_start=not persistent, properties=props)
    except (ssl.SSLError, OSError) as exc:
        raise Refused(exc) from None
    c.loop_start()
    try:
        rc = answer.get(timeout=timeout)
    except queue.Empty:
        c.loop_stop()
        raise Refused("no CONNACK (TLS refused or connection closed)") from None
    if isinstance(rc, str) or rc.is_failure:
        c.loop_stop()
        c.disconnect()
        raise Refused(rc)
    return peer


class SecureSite:
    """A hall's broker directory with one device per role, run with the production config on free ports."""

    def __init__(self, workdir: Path, site: str, devices: list[tuple[str, str, int | None]], *,
                 client_certs: bool = True):
        self.site = site
        self.sb = SiteBroker(workdir / "etc")
        self.sb.init(site)
        self.passwords = {d: self.sb.add_device(role, d, counter) for role, d, counter in devices}
        from motcua.broker.certs import SiteCA

        self.ca = SiteCA(self.sb.certs_dir, site)
        self.ca.ensure()
        self.ca.server(["localhost", "127.0.0.1"])
        self.tls_port, self.cert_port = free_port(), (free_port() if client_certs else None)
        self.broker = LocalBroker(workdir / "data", render=lambda b: render_site(
            self.sb.directory, data_dir=b.workdir, local_port=b.port, tls_port=self.tls_port,
            cert_port=self.cert_port, log_dest=f"file {b.workdir}/mosquitto.log", user=getpass.getuser()))
        # Mosquitto started as root reads these as root; make the tree traversable for other users anyway.
        for d in (workdir, self.sb.directory, self.sb.certs_dir):
            d.chmod(0o755)

    @property
    def port(self) -> int:
        return self.broker.port

    def topic(self, rest: str) -> str:
        return f"motcua/v1/{self.site}/{rest}"

    def login(self, device_id: str, **kw) -> Peer:
        return connect(self.port, device_id, self.passwords[device_id], **kw)

    def tls(self, **extra) -> dict:
        return {"ca": self.ca.cert_path, **extra}

    def start(self) -> SecureSite:
        self.broker.start()
        return self

    def stop(self) -> None:
        self.broker.stop()


def message_expiry(seconds: int) -> Properties:
    p = Properties(PacketTypes.PUBLISH)
    p.MessageExpiryInterval = seconds
    return p
