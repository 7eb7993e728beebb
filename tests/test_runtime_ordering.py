"""The runtime's acknowledgement bookkeeping under the orderings paho really produces, with a fake paho client.

paho's network thread calls ``on_publish`` while it holds the mutex ``publish()`` needs, and it may read a PUBACK
before ``publish()`` has returned the message id to its caller. The fake below reproduces both, so that neither
the early-PUBACK leak (stale entries, refusals reported against another topic, ``request()`` timing out instead
of raising NotAuthorized) nor the lock-order deadlock in the dispatcher can come back unnoticed.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from daemonkit import wait_until
from motcua.protocol import TicketReply, TicketRequest, new_id
from motcua.runtime import DeviceRuntime, NotAuthorized
from motcua.settings import DeviceSettings, MqttSettings

OK = ReasonCode(PacketTypes.PUBACK, identifier=0)
NOT_AUTHORIZED = ReasonCode(PacketTypes.PUBACK, identifier=0x87)


@dataclass
class Info:
    mid: int
    rc: int = 0


class FakePaho:
    """Just enough of paho.mqtt.Client: ``publish`` under paho's mutex; acks delivered by a 'network thread'
    that holds that same mutex while calling on_publish — or, with ``early``, before publish() returns."""

    def __init__(self, runtime: DeviceRuntime, *, early: bool = False, refuse: set[str] | None = None):
        self.runtime, self.early, self.refuse = runtime, early, refuse or set()
        self.mutex = threading.RLock()  # paho's _out_message_mutex: re-entrant, as paho's is
        self.last_mid = 0
        self.acks: queue.Queue = queue.Queue()
        self.published: list[tuple[int, str]] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._network, daemon=True)
        self.thread.start()

    def publish(self, topic, payload=None, qos=0, retain=False, properties=None):
        with self.mutex:
            self.last_mid = self.last_mid % 65535 + 1  # paho reuses ids: 1..65535, then again
            mid = self.last_mid
            self.published.append((mid, topic))
            code = NOT_AUTHORIZED if any(topic.endswith(r) for r in self.refuse) else OK
            if qos and self.early:  # the PUBACK is read before publish() returns the mid
                self.runtime._on_publish(self, None, mid, code, None)
            elif qos:
                self.acks.put((mid, code))
        return Info(mid)

    def _network(self) -> None:
        while not self._stop.is_set():
            try:
                mid, code = self.acks.get(timeout=0.1)
            except queue.Empty:
                continue
            with self.mutex:  # as paho: on_publish runs holding the mutex publish() needs
                self.runtime._on_publish(self, None, mid, code, None)

    def subscribe(self, *a, **k):
        return (0, 1)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(2)


def runtime_with_fake(**fake) -> tuple[DeviceRuntime, FakePaho]:
    rt = DeviceRuntime(DeviceSettings(site="t", device_id="kiosk-1", mqtt=MqttSettings(port=1)), "kiosk",
                       announce=False)
    fake_client = FakePaho(rt, **fake)
    rt._client = fake_client
    rt._connected.set()
    return rt, fake_client


def wait_outbox_forgotten(service) -> None:
    """Every event the broker acknowledged is forgotten on a tick: tick until the outbox is empty."""
    def forgotten() -> bool:
        service._tick()
        return service.store.scalar("SELECT COUNT(*) FROM outbox") == 0

    wait_until(forgotten, 10, "the acknowledged events deleted from the outbox")


@pytest.mark.parametrize("early", [False, True], ids=["ack after publish returns", "ack before publish returns"])
def test_every_puback_is_consumed_whatever_the_order(early):
    rt, fake = runtime_with_fake(early=early)
    acked = []
    try:
        for i in range(5000):
            rt.publish(f"motcua/v1/t/x/{i}", b"{}", on_ack=acked.append)
        wait_until(lambda: rt.unacked == 0, 10, "every PUBACK consumed")
        assert len(acked) == 5000
    finally:
        fake.stop()


def test_an_early_refusal_raises_not_authorized_for_the_right_topic(caplog):
    rt, fake = runtime_with_fake(early=True, refuse={"/ticket/issue"})
    try:
        for _ in range(3):  # publishes before, so that mids move on
            rt.publish("motcua/v1/t/device/kiosk-1/health", b"{}")
        req = TicketRequest(command_id=new_id(), area="TP")
        with pytest.raises(NotAuthorized):
            rt.request(rt.topics.ticket_issue(rt.login), req, TicketReply, timeout=2)
        assert "refused our publish on motcua/v1/t/request/kiosk-1/ticket/issue" in caplog.text
        assert rt.unacked == 0
    finally:
        fake.stop()


def test_a_reused_message_id_is_not_confused_with_its_previous_use(caplog):
    """After 65535 publishes paho starts again at mid 1: the refusal must name the new topic."""
    rt, fake = runtime_with_fake(early=True, refuse={"/forbidden"})
    try:
        fake.last_mid = 65534
        rt.publish("motcua/v1/t/allowed", b"{}")          # mid 65535
        rt.publish("motcua/v1/t/forbidden", b"{}")        # mid 1, refused
        assert "refused our publish on motcua/v1/t/forbidden" in caplog.text
        assert "refused our publish on motcua/v1/t/allowed" not in caplog.text
        assert rt.unacked == 0
    finally:
        fake.stop()


def dispatcher_with_fake(tmp_path):
    """The real DispatcherService on a real SQLite file, its paho client the fake above; the limits lifted
    so that hundreds of commands in a row are all applied. Returns (service, fake, inbound topic maker)."""
    from dispatcher.config import DispatcherSettings
    from dispatcher.service import DispatcherService
    from hallfactory import make_settings
    from motcua.runtime import Inbound

    lifted = {"burst": 10000, "per_minute": 60}
    settings = DispatcherSettings(site="t", mqtt=MqttSettings(port=1), database=tmp_path / "d.db",
                                  hall=make_settings(limits={"ticket_issue": lifted, "counter_command": lifted}))
    service = DispatcherService(settings)
    fake = FakePaho(service.runtime)
    service.runtime._client = fake
    service.runtime._connected.set()

    def inbound(*what: str) -> Inbound:
        topic = "/".join(["motcua/v1/t/request", *what])
        return Inbound(topic, service.topics.split(topic), None, None, False)

    return service, fake, inbound


def test_the_dispatcher_never_waits_for_its_lock_inside_on_publish(tmp_path):
    """The ordering that once deadlocked the dispatcher: the network thread holds paho's mutex and calls
    on_publish (the outbox ack path) while a command handler holds the service lock and publishes."""
    from motcua.protocol import COUNTER_ACTIONS

    service, fake, inbound = dispatcher_with_fake(tmp_path)
    done = threading.Event()

    def work() -> None:
        reply, then = service._on_counter_command(
            COUNTER_ACTIONS["open"](command_id=new_id(), officer="lan"), inbound("keypad-1", "counter", "1", "open"))
        then()
        for _ in range(300):
            reply, then = service._on_ticket_request(TicketRequest(command_id=new_id(), area="TP"),
                                                     inbound("kiosk-1", "ticket", "issue"))
            then()  # publishes states and outbox events holding service._lock, while acks pour in
            reply, then = service._on_counter_command(COUNTER_ACTIONS["next"](command_id=new_id()),
                                                      inbound("keypad-1", "counter", "1", "next"))
            then()
            service._tick()
        done.set()

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        assert done.wait(60), "deadlock: the command thread and paho's network thread wait for each other"
        wait_outbox_forgotten(service)
    finally:
        fake.stop()
        service.store.close()


def test_the_tick_and_a_reconnect_publish_beside_the_commands_and_lose_nothing(tmp_path):
    """The tick publishes what readers away from the keypads see from its own connection, outside the service
    lock, and copies the write-ahead log back; a reconnect republishes everything. All three at once, against
    the fake network thread: no deadlock, every call's event out at least once, and the log fully copied."""
    from motcua.protocol import COUNTER_ACTIONS

    service, fake, inbound = dispatcher_with_fake(tmp_path)
    done = threading.Event()
    calls = 100

    def work() -> None:
        reply, then = service._on_counter_command(
            COUNTER_ACTIONS["open"](command_id=new_id(), officer="lan"), inbound("keypad-1", "counter", "1", "open"))
        then()
        for _ in range(calls):
            for message, what in ((TicketRequest(command_id=new_id(), area="TP"), ("kiosk-1", "ticket", "issue")),
                                  (COUNTER_ACTIONS["next"](command_id=new_id()), ("keypad-1", "counter", "1", "next"))):
                handler = service._on_ticket_request if what[1] == "ticket" else service._on_counter_command
                reply, then = handler(message, inbound(*what))
                assert reply.ok, reply
                then()
        done.set()

    def beside(step, pause: float) -> None:
        while not done.wait(pause):
            step()

    threads = [threading.Thread(target=f, daemon=True) for f in
               (work, lambda: beside(service._tick, 0.001), lambda: beside(service.republish_all, 0.05))]
    for t in threads:
        t.start()
    try:
        assert done.wait(120), "deadlock: the command, tick and reconnect threads wait for each other"
        for t in threads[1:]:
            t.join(10)
        calls_out = [topic for _, topic in fake.published if topic == service.topics.call_event]
        assert len(calls_out) >= calls  # each call's event went out, some twice after a 'reconnect'
        wait_outbox_forgotten(service)
        busy, log_pages, copied = service.reader.checkpoint()
        assert busy == 0 and copied == log_pages  # the log is back in the database
        area_queues = [topic for _, topic in fake.published if topic == service.topics.area_queue("TP")]
        assert area_queues  # the province's queue page followed, from the tick or a reconnect
    finally:
        fake.stop()
        service.reader.close()
        service.store.close()
