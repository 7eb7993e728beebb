"""The province side for tests: a PostgreSQL cluster, the province broker, collector processes, publishers."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg

from motcua.protocol import RatingEvent, Ticket, TicketOutcome, new_id
from province import stand_in
from province.stand_in import ProvinceBroker

import daemonkit

DAY = date(2026, 3, 2)
T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


def outcome(n: int, *, site_day: date = DAY) -> TicketOutcome:
    issued = T0 + timedelta(seconds=20 * n)
    called, finished = issued + timedelta(minutes=n % 17), issued + timedelta(minutes=n % 17 + 6)
    t = Ticket(ticket_id=f"{site_day:%Y%m%d}-TP-{1000 + n}", number=f"A{1000 + n}", area="TP", day=site_day,
               status="done", issued_at=issued, called_at=called, finished_at=finished, counter=1 + n % 5)
    return TicketOutcome(at=finished, outcome="done", ticket=t, issue_area="TP", officer=f"officer{n % 5}",
                         wait_min=(called - issued).total_seconds() / 60, service_min=6.0)


def rating(n: int, *, dossier: str | None = None) -> RatingEvent:
    return RatingEvent(at=T0 + timedelta(seconds=20 * n), rating_id=f"rating-{n:08d}",
                       ticket_id=f"{DAY:%Y%m%d}-TP-{1000 + n}", counter=1 + n % 5, area="TP", officer=f"officer{n % 5}",
                       dossier_code=dossier, level=("very_satisfied", "satisfied", "unsatisfied")[n % 3],
                       rated_at=T0 + timedelta(seconds=20 * n), pad=f"pad-{1 + n % 5}", service_day=DAY)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Another process's database has no event to wait on: the suite's one poll helper."""
    daemonkit.wait_until(predicate, timeout, what)


def count(dsn: str, sql: str = "SELECT count(*) FROM events") -> int:
    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            return conn.execute(sql).fetchone()[0]
    except psycopg.Error:  # the server restarting, or no collector has made the tables yet
        return -1


def spawn_collector(province: ProvinceBroker, dsn: str, device_id: str, log: Path) -> subprocess.Popen:
    return stand_in.spawn_collector(province, dsn, device_id, log, log_level="INFO", batch_wait_ms="10",
                                    database__retry_max_s="0.5")


class Publisher:
    """One hall's publishing side at the province: logs in as the site's bridge and sends QoS 1 messages."""

    def __init__(self, port: int, username: str, password: str, ca: Path):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=username, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(username, password)
        self.client.tls_set(ca_certs=str(ca))
        self.client.max_inflight_messages_set(100)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.acked = threading.Semaphore(0)
        self.client.on_publish = lambda *a: self.acked.release()
        props = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        props.SessionExpiryInterval = 600
        self.client.connect("127.0.0.1", port, clean_start=False, properties=props)
        self.client.loop_start()

    def send(self, topic: str, payloads: list[bytes], pause_every: int = 0, pause: Callable[[], None] | None = None,
             timeout: float = 60) -> None:
        for i, p in enumerate(payloads):
            self.client.publish(topic, p, qos=1)
            if pause and pause_every and i and i % pause_every == 0:
                pause()
        for _ in payloads:
            assert self.acked.acquire(timeout=timeout), "the province broker did not acknowledge every message"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def unique_db(pg, prefix: str = "province") -> str:
    return pg.create_database(f"{prefix}_{new_id()[:12]}")
