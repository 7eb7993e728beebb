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
import threading
import time

import psycopg

from motcua.protocol.topics import ROOT
from motcua.runtime import SystemdNotifier
from motcua.runtime.durable import DurableSubscriber

from .config import CollectorSettings
from .records import Refusal, parse
from .store import ensure_schema, write_batch

log = logging.getLogger("province.collector")


class Collector:
    def __init__(self, settings: CollectorSettings, notifier: SystemdNotifier | None = None):
        self.settings = settings
        self.systemd = notifier or SystemdNotifier()
        self.stored = 0  # new events committed since start
        self.refused = 0
        self.batches = 0
        self.write_s = 0.0  # time spent writing batches (for the log's throughput line)
        self.biggest_backlog = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._db_ok = threading.Event()
        self._count = threading.Lock()
        # Several writers, each with its own connection: while one waits on its commit the next batch
        # is already being written. Batches are independent: each acknowledges its own messages.
        self._writers = [threading.Thread(target=self._write_loop, name=f"collector-writer-{i + 1}", daemon=True)
                         for i in range(settings.writers)]
        self.mqtt = DurableSubscriber(settings.device_id, settings.mqtt, self.filters(),
                                      receive_maximum=settings.receive_maximum,
                                      session_expiry_s=settings.session_expiry_s, name="collector")

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
        s = self.settings
        for w in self._writers:
            w.start()
        self.mqtt.start()
        self.systemd.ready(f"collector {s.device_id}: {s.mqtt.host}:{s.mqtt.port} -> PostgreSQL")
        if self.systemd.watchdog_s:
            threading.Thread(target=self._watchdog, name="collector-watchdog", daemon=True).start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking messages, store what was received, then leave (the session keeps the rest)."""
        self.systemd.stopping()
        self.mqtt.stop()
        self._stop.set()
        for w in self._writers:
            w.join(timeout)

    def wait_database(self, timeout: float) -> bool:
        return self._db_ok.wait(timeout)

    def healthy(self) -> bool:
        return all(w.is_alive() for w in self._writers) and self.mqtt.loop_alive()

    def _watchdog(self) -> None:
        while not self._stop.wait((self.systemd.watchdog_s or 30) / 3):
            if self.healthy():
                self.systemd.watchdog()

    # ------------------------------------------------------------------ the writer thread

    def _write_loop(self) -> None:
        backoff = 0.25
        s = self.settings
        db: psycopg.Connection | None = None
        try:
            while True:
                batch = self.mqtt.next_batch(s.batch_max, s.batch_wait_ms / 1000)
                if not batch:
                    if self._stop.is_set():
                        return
                    continue
                self.biggest_backlog = max(self.biggest_backlog, self.mqtt.inbox.qsize())
                records = [parse(m.topic, m.payload, s.mqtt.max_payload_bytes) for m in batch]
                while True:
                    try:
                        began = time.perf_counter()
                        db = db if db is not None and not db.closed else self._connect()
                        try:
                            new = write_batch(db, records)
                        except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as exc:
                            # the server refused something in this batch (say a \u0000 in a string, which
                            # PostgreSQL text cannot hold): find which, refuse it, store the rest
                            log.warning("batch refused by the database (%s); storing it one by one", _first(exc))
                            records, new = _one_by_one(db, records)
                        spent = time.perf_counter() - began
                        break
                    except psycopg.Error as exc:
                        self._db_ok.clear()
                        _close(db)
                        db = None
                        reason = _first(exc)
                        if self.last_error != f"database: {reason}":
                            log.warning("database unavailable (%s); %d messages wait, unacknowledged", reason,
                                        len(batch) + self.mqtt.inbox.qsize())
                        self.last_error = f"database: {reason}"
                        if self._stop.wait(backoff) and not self.mqtt.connected:
                            return  # stopping with the database away: the session keeps these for next time
                        backoff = min(backoff * 2, s.database.retry_max_s)
                backoff = 0.25
                refused = [r for r in records if isinstance(r, Refusal)]
                for r in refused:
                    log.warning("refused %s: %s", r.topic, r.reason)
                with self._count:
                    self.stored += new
                    self.refused += len(refused)
                    self.batches += 1
                    self.write_s += spent
                self.mqtt.ack(batch)
        finally:
            _close(db)

    def _connect(self) -> psycopg.Connection:
        db = psycopg.connect(**self.settings.database.conninfo(), autocommit=True)
        ensure_schema(db)
        if self.last_error and self.last_error.startswith("database"):
            log.info("database back")
        self.last_error = None
        self._db_ok.set()
        return db


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _one_by_one(db: psycopg.Connection, records: list) -> tuple[list, int]:
    """Store each record alone; one the database refuses is kept in ``refused`` with the server's reason."""
    out, new = [], 0
    for r in records:
        try:
            new += write_batch(db, [r])
            out.append(r)
        except (psycopg.DataError, psycopg.IntegrityError, psycopg.ProgrammingError) as exc:
            if isinstance(r, Refusal):
                raise  # not even the refusal could be kept: a fault of ours, not of the message
            refusal = Refusal(getattr(r, "site", None), _topic_of(r), f"database refused it: {_first(exc)}",
                              getattr(r, "raw", b"") or b"")
            write_batch(db, [refusal])
            out.append(refusal)
    return out, new


def _topic_of(r) -> str:
    kind = getattr(r, "kind", None)
    return f"{ROOT}/{r.site}/event/{kind}" if kind else f"{ROOT}/{r.site}/device/{getattr(r, 'device_id', '?')}"


def _close(db: psycopg.Connection | None) -> None:
    if db is not None:
        try:
            db.close()
        except psycopg.Error:
            pass
