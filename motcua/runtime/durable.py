"""A subscriber that acknowledges a message only once it has been kept: for the province's consumers.

The hall's daemons acknowledge on receipt (paho's default). A consumer that
moves messages into a database (the province collector, the one-stop
adapter's outbox) must not: if it dies between the PUBACK and its commit,
the message is gone. :class:`DurableSubscriber`

* keeps a persistent MQTT v5 session (``clean_start=False``, a long session
  expiry) so the broker holds what arrives while it is away, and renews its
  subscriptions on every connect;
* uses paho's ``manual_ack``: messages land in :attr:`inbox`, and the owner
  calls :meth:`ack` with them after its commit;
* limits what the broker may have in flight to it (``ReceiveMaximum``), so a
  stalled owner is flow control, not a growing heap;
* never acknowledges a message on a connection other than the one that
  delivered it: after a reconnect the broker sends unacknowledged messages
  again (and the owner's store drops the duplicate by its id).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..settings import MqttSettings

log = logging.getLogger("motcua.durable")


@dataclass(frozen=True)
class Delivery:
    connection: int
    mid: int
    qos: int
    topic: str
    payload: bytes


class DurableSubscriber:
    def __init__(self, client_id: str, cfg: MqttSettings, filters: list[str], *, receive_maximum: int = 1000,
                 session_expiry_s: int = 7 * 86400, name: str = "subscriber"):
        self.filters = filters
        self.name = name
        self.inbox: queue.Queue[Delivery] = queue.Queue()
        self.last_error: str | None = None
        self.subscribed = threading.Event()
        self._cfg = cfg
        self._connection = 0
        self._lock = threading.Lock()
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._props = Properties(PacketTypes.CONNECT)
        self._props.SessionExpiryInterval = session_expiry_s
        self._props.ReceiveMaximum = receive_maximum
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5,
                        manual_ack=True)
        c.username_pw_set(cfg.username or client_id, cfg.resolved_password())
        if cfg.ca_file:
            c.tls_set(ca_certs=str(cfg.ca_file), certfile=str(cfg.cert_file) if cfg.cert_file else None,
                      keyfile=str(cfg.key_file) if cfg.key_file else None)
        c.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)  # type: ignore[arg-type]
        c.max_inflight_messages_set(cfg.max_inflight)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self.client = c

    def start(self) -> None:
        self.client.connect_async(self._cfg.host, self._cfg.port, keepalive=self._cfg.keepalive_s, clean_start=False,
                                  properties=self._props)
        self.client.loop_start()

    def stop(self) -> None:
        self._stopping.set()
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def loop_alive(self) -> bool:
        loop = getattr(self.client, "_thread", None)
        return loop is None or loop.is_alive()

    def next_batch(self, most: int, wait_s: float, idle_s: float = 0.2) -> list[Delivery]:
        """What arrived: waits up to ``idle_s`` for a first message, then up to ``wait_s`` for more."""
        try:
            batch = [self.inbox.get(timeout=idle_s)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + wait_s
        while len(batch) < most:
            left = deadline - time.monotonic()
            try:
                batch.append(self.inbox.get(timeout=left) if left > 0 else self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def ack(self, deliveries: list[Delivery]) -> None:
        """After the owner's commit: tell the broker these are kept (only those of the current connection)."""
        with self._lock:
            current = self._connection
        for d in deliveries:
            if d.qos > 0 and d.connection == current:
                self.client.ack(d.mid, d.qos)

    # ------------------------------------------------------------------ paho's thread

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused connection: {reason_code}"
            log.error("%s: broker %s:%s refused the connection: %s", self.name, self._cfg.host, self._cfg.port,
                      reason_code)
            return
        with self._lock:
            self._connection += 1
        log.info("%s connected to %s:%s (session %s)", self.name, self._cfg.host, self._cfg.port,
                 "resumed" if flags.session_present else "new")
        client.subscribe([(f, 1) for f in self.filters])  # one SUBSCRIBE, one SUBACK, however many halls
        self._connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(r) for r in reason_codes if r.is_failure]
        if refused:
            self.last_error = f"subscription refused: {', '.join(refused)}"
            log.error("%s: the broker refused a subscription: %s", self.name, ", ".join(refused))
        else:
            log.info("%s subscribed (%d filters)", self.name, len(reason_codes))
            self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            self.last_error = f"disconnected: {reason_code}"
            log.warning("%s lost the broker (%s); reconnecting", self.name, reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            connection = self._connection
        self.inbox.put(Delivery(connection, msg.mid, msg.qos, msg.topic, bytes(msg.payload)))
