"""The province collector: every hall's bridged events into PostgreSQL, once each.

Wiring, thin on purpose (what a message means is :mod:`province.records`,
how it is stored is :mod:`province.store`):

* a persistent MQTT v5 session (``clean_start=False``, long session expiry)
  on the province broker, subscribed through a shared subscription
  ``$share/{group}/motcua/v1/{sites}/event/#``: several collectors split the
  halls' events, and one can die while the others carry on;
* messages are acknowledged by hand (paho ``manual_ack``), and only once
  the transaction that stored them has committed. A collector killed before
  that gets them again from the broker when it comes back (its session kept
  them); one whose database is away holds them unacknowledged until it
  returns, and the broker stops sending past ``receive_maximum``;
* the writer thread batches what arrives within ``batch_wait_ms`` (up to
  ``batch_max``) into one transaction; duplicates are dropped by the
  primary key, so redelivery never doubles a row.

An acknowledgement belongs to the connection that received the message:
after a reconnect, messages of the old connection are not acknowledged
(the broker sends them again, the database already has them).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from motcua.protocol.topics import ROOT
from motcua.runtime import SystemdNotifier

from .config import CollectorSettings
from .records import Refusal, parse
from .store import ensure_schema, write_batch

log = logging.getLogger("province.collector")


@dataclass
class _Inbound:
    generation: int
    mid: int
    qos: int
    topic: str
    payload: bytes


class Collector:
    def __init__(self, settings: CollectorSettings, notifier: SystemdNotifier | None = None):
        self.settings = settings
        self.systemd = notifier or SystemdNotifier()
        self.stored = 0  # new events committed since start
        self.refused = 0
        self.last_error: str | None = None
        self._inbox: queue.Queue[_Inbound] = queue.Queue()
        self._generation = 0
        self._gen_lock = threading.Lock()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._db: psycopg.Connection | None = None
        self._db_ok = threading.Event()
        self._writer = threading.Thread(target=self._write_loop, name="collector-writer", daemon=True)

        cfg = settings.mqtt
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=settings.device_id,
                                   protocol=mqtt.MQTTv5, manual_ack=True)
        self._client.username_pw_set(cfg.username or settings.device_id, cfg.resolved_password())
        if cfg.ca_file:
            self._client.tls_set(ca_certs=str(cfg.ca_file), certfile=str(cfg.cert_file) if cfg.cert_file else None,
                                 keyfile=str(cfg.key_file) if cfg.key_file else None)
        self._client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)  # type: ignore[arg-type]
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe

    # ------------------------------------------------------------------ topics

    def filters(self) -> list[str]:
        s = self.settings
        base = f"$share/{s.share_group}/{ROOT}/{s.sites}"
        found = [f"{base}/event/#"]
        if s.devices:
            found += [f"{base}/device/+/availability", f"{base}/device/+/health", f"{base}/bridge/province"]
        return found

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        cfg, s = self.settings.mqtt, self.settings
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = s.session_expiry_s
        props.ReceiveMaximum = s.receive_maximum
        self._writer.start()
        self._client.connect_async(cfg.host, cfg.port, keepalive=cfg.keepalive_s, clean_start=False,
                                   properties=props)
        self._client.loop_start()
        self.systemd.ready(f"collector {s.device_id}: {cfg.host}:{cfg.port} -> PostgreSQL")
        if self.systemd.watchdog_s:
            threading.Thread(target=self._watchdog, name="collector-watchdog", daemon=True).start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking messages, store what was received, then leave (the session keeps the rest)."""
        self.systemd.stopping()
        self._client.disconnect()
        self._client.loop_stop()
        self._stop.set()
        self._writer.join(timeout)
        if self._db is not None:
            self._db.close()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_database(self, timeout: float) -> bool:
        return self._db_ok.wait(timeout)

    def healthy(self) -> bool:
        loop = getattr(self._client, "_thread", None)
        return self._writer.is_alive() and (loop is None or loop.is_alive())

    def _watchdog(self) -> None:
        while not self._stop.wait((self.systemd.watchdog_s or 30) / 3):
            if self.healthy():
                self.systemd.watchdog()

    # ------------------------------------------------------------------ MQTT (paho's thread)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker refused connection: {reason_code}"
            log.error("province broker refused the collector: %s", reason_code)
            return
        with self._gen_lock:
            self._generation += 1
        log.info("connected to the province broker (session %s)", "resumed" if flags.session_present else "new")
        for f in self.filters():
            client.subscribe(f, qos=1)
        self._connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(r) for r in reason_codes if r.is_failure]
        if refused:
            self.last_error = f"subscription refused: {', '.join(refused)}"
            log.error("the province broker refused a subscription: %s", ", ".join(refused))
        else:
            log.info("subscribed (%d filters)", len(reason_codes))

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("lost the province broker (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg: mqtt.MQTTMessage) -> None:
        with self._gen_lock:
            gen = self._generation
        self._inbox.put(_Inbound(gen, msg.mid, msg.qos, msg.topic, bytes(msg.payload)))

    # ------------------------------------------------------------------ the writer thread

    def _next_batch(self) -> list[_Inbound]:
        try:
            first = self._inbox.get(timeout=0.2)
        except queue.Empty:
            return []
        batch = [first]
        deadline = time.monotonic() + self.settings.batch_wait_ms / 1000
        while len(batch) < self.settings.batch_max:
            try:
                batch.append(self._inbox.get_nowait())
            except queue.Empty:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                try:
                    batch.append(self._inbox.get(timeout=left))
                except queue.Empty:
                    break
        return batch

    def _write_loop(self) -> None:
        backoff = 0.25
        while True:
            batch = self._next_batch()
            if not batch:
                if self._stop.is_set():
                    return
                continue
            records = [parse(m.topic, m.payload, self.settings.mqtt.max_payload_bytes) for m in batch]
            while True:
                try:
                    db = self._connection()
                    new = write_batch(db, records)
                    break
                except psycopg.Error as exc:
                    self._db_ok.clear()
                    self._drop_connection()
                    if self.last_error != f"database: {exc}".strip():
                        log.warning("database unavailable (%s); %d messages wait, unacknowledged",
                                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                                    len(batch) + self._inbox.qsize())
                    self.last_error = f"database: {exc}".strip()
                    if self._stop.wait(backoff) and not self._connected.is_set():
                        return  # stopping with the database away: the session keeps these for next time
                    backoff = min(backoff * 2, self.settings.database.retry_max_s)
            backoff = 0.25
            for r in records:
                if isinstance(r, Refusal):
                    self.refused += 1
                    log.warning("refused %s: %s", r.topic, r.reason)
            self.stored += new
            self._ack(batch)

    def _ack(self, batch: list[_Inbound]) -> None:
        with self._gen_lock:
            gen = self._generation
        for m in batch:
            if m.qos > 0 and m.generation == gen:
                self._client.ack(m.mid, m.qos)

    def _connection(self) -> psycopg.Connection:
        if self._db is None or self._db.closed:
            self._db = psycopg.connect(**self.settings.database.conninfo(), autocommit=True)
            ensure_schema(self._db)
            if self.last_error and self.last_error.startswith("database"):
                log.info("database back")
            self.last_error = None
            self._db_ok.set()
        return self._db

    def _drop_connection(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except psycopg.Error:
                pass
            self._db = None
