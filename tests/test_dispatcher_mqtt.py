"""The dispatcher through a real Mosquitto: what keypads, kiosks and pads see."""

from __future__ import annotations

import contextlib
import json
import threading
from datetime import datetime, timezone

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from motcua.client import HallClient
from motcua.runtime import NotAuthorized
from motcua.protocol import (
    CallEvent,
    CounterState,
    DossierRecord,
    DossierStatusUpdate,
    Rating,
    TicketEvent,
    new_id,
)


def state(watcher, counter: int, predicate):
    msg = watcher.wait_for(lambda m: m.topic.endswith(f"/counter/{counter}/state")
                           and predicate(CounterState.model_validate_json(m.payload)))
    return CounterState.model_validate_json(msg.payload)


def test_ticket_call_and_retained_state(dispatcher, client, watcher_factory, site):
    calls = watcher_factory(f"motcua/v1/{site}/event/call")
    r = client.ticket("TP")
    assert r.ok and r.ticket.number == "A1001" and r.waiting_ahead == 0
    assert client.ticket("TP").ticket.number == "A1002"
    assert client.ticket("DD").ticket.number == "B2001"

    assert client.counter(1, "open", officer="lan.nguyen").ok
    r = client.counter(1, "next")
    assert r.ok and r.counter.current.number == "A1001" and r.counter.officer_name == "Nguyễn Thị Lan"
    ev = CallEvent.model_validate_json(calls.wait_for(lambda m: True).payload)
    assert (ev.number, ev.counter, ev.recall) == ("A1001", 1, False)

    # a display that boots now gets the counter's state from the retained topic
    late = watcher_factory(f"motcua/v1/{site}/counter/1/state")
    s = state(late, 1, lambda s: True)
    assert s.status == "open" and s.current.number == "A1001"
    # the area's summary follows within a second (the dispatcher's tick), never behind the keypad's reply
    area = watcher_factory(f"motcua/v1/{site}/area/TP/summary").wait_for(
        lambda m: json.loads(m.payload)["last_called"] == "A1001")
    summary = json.loads(area.payload)
    assert summary["waiting"] == 1 and summary["issued_today"] == 2


def test_every_counter_command(dispatcher, client, watcher_factory, site):
    states = watcher_factory(f"motcua/v1/{site}/counter/+/state")
    events = watcher_factory(f"motcua/v1/{site}/event/ticket")
    for _ in range(4):
        client.ticket("TP")
    client.ticket("DD")

    assert client.counter(2, "next").error.code == "bad_state"  # closed
    assert client.counter(2, "open", officer="nobody").error.code == "unknown_officer"
    assert client.counter(2, "open", officer="minh.tran").ok
    assert client.counter(2, "pause").counter.status == "paused"
    assert client.counter(2, "next").error.code == "bad_state"
    assert client.counter(2, "resume").counter.status == "open"

    assert client.counter(2, "next").counter.current.number == "A1001"
    r = client.counter(2, "recall")
    assert r.ok
    assert client.counter(2, "skip").counter.current is None
    assert client.counter(2, "next").counter.current.number == "A1002"
    # the citizen of A1001 arrives late: back to the front, for this counter
    assert client.counter(2, "reactivate", number="A1001").ok
    r = client.counter(2, "next")
    assert r.counter.current.number == "A1001" and r.counter.rating_window.number == "A1002"

    # transfer to another area: counter 3 (land) serves it first (lands at the front)
    assert client.counter(3, "open", officer="hoa.le").ok
    assert client.counter(2, "transfer", to_area="DD").counter.current is None
    assert client.counter(3, "next").counter.current.number == "A1001"
    # transfer to one counter
    assert client.counter(3, "transfer", to_counter=1).ok
    assert client.counter(1, "open", officer="lan.nguyen").ok
    assert client.counter(1, "next").counter.current.number == "A1001"
    with pytest.raises(ValueError):  # 'dossier' is the CLI's word; the protocol's action is attach_dossier
        client.counter(1, "dossier", dossier_code="H12.22-240115-0001")
    r = client.counter(1, "attach_dossier", dossier_code="H12.22-240115-0001")
    assert r.ok and r.counter.current.dossier_code is None  # kept off the public TV (hall.public)
    import sqlite3

    db = sqlite3.connect(dispatcher.database)
    assert db.execute("SELECT dossier_code FROM tickets WHERE ticket_id = ?",
                      (r.counter.current.ticket_id,)).fetchone() == ("H12.22-240115-0001",)
    r = client.counter(1, "finish")
    assert r.ok and r.counter.current is None and r.counter.rating_window.number == "A1001"
    assert client.counter(1, "transfer", to_area="DD").error.code == "bad_state"  # nothing to transfer
    assert client.counter(1, "close").counter.status == "closed"

    s = state(states, 1, lambda s: s.status == "closed")
    assert s.officer is None
    kinds = []
    events.wait_for(lambda m: TicketEvent.model_validate_json(m.payload).kind == "dossier_attached")
    for m in events.messages:
        ev = TicketEvent.model_validate_json(m.payload)
        if ev.ticket.number == "A1001":
            kinds.append(ev.kind)
    assert kinds[:9] == ["issued", "called", "recalled", "skipped", "reactivated", "called", "transferred",
                         "called", "transferred"]


def test_replayed_command_id_changes_nothing(dispatcher, client, watcher_factory, site):
    calls = watcher_factory(f"motcua/v1/{site}/event/call")
    first = client.ticket("TP", command_id="kiosk-retry-0001")
    again = client.ticket("TP", command_id="kiosk-retry-0001")
    assert again == first and first.ticket.number == "A1001"
    assert client.ticket("TP").ticket.number == "A1002"

    client.counter(1, "open", officer="lan.nguyen")
    a = client.counter(1, "next", command_id="keypad-press-0001")
    b = client.counter(1, "next", command_id="keypad-press-0001")
    assert a == b and a.counter.current.number == "A1001"
    assert client.counter(1, "next").counter.current.number == "A1002"
    calls.wait_for(lambda m: b"A1002" in m.payload)
    assert [CallEvent.model_validate_json(m.payload).number for m in calls.messages] == ["A1001", "A1002"]
    # the same id for a different command is refused, not silently answered
    assert client.counter(1, "recall", command_id="keypad-press-0001").error.code == "id_reused"


def test_priority_rule_over_mqtt(dispatcher, client):
    # sample hall: interleave, one priority ticket after every 3 normal ones
    normal = [client.ticket("TP").ticket.number for _ in range(5)]
    prio = [client.ticket("TP", "elderly").ticket.number for _ in range(2)]
    assert client.ticket("TP", "vip").error.code == "unknown_category"
    client.counter(1, "open", officer="lan.nguyen")
    order = [client.counter(1, "next").counter.current.number for _ in range(7)]
    assert order == [prio[0], normal[0], normal[1], normal[2], prio[1], normal[3], normal[4]]


class RawDevice:
    """A hostile or broken client: publishes whatever bytes it likes, with a response topic."""

    def __init__(self, broker, site: str, device_id: str = "raw-tester"):
        self.site, self.device_id = site, device_id
        self.replies: list[dict] = []
        self.cond = threading.Condition()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device_id, protocol=mqtt.MQTTv5)
        # a technician's login may send any counter command or request: the dispatcher is the last line
        self.c.username_pw_set(device_id, broker.mqtt(device_id, "operator").resolved_password())
        ready = threading.Event()
        self.reply_topic = f"motcua/v1/{site}/device/{device_id}/reply"
        self.c.on_connect = lambda c, *_: c.subscribe(self.reply_topic, qos=1)
        self.c.on_subscribe = lambda *_: ready.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", broker.port)
        self.c.loop_start()
        assert ready.wait(10)

    def _on_message(self, client, userdata, msg) -> None:
        with self.cond:
            self.replies.append({"body": json.loads(msg.payload), "correlation": msg.properties.CorrelationData})
            self.cond.notify_all()

    def send(self, topic: str, payload: bytes, correlation: bytes = b"corr") -> dict:
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.reply_topic
        props.CorrelationData = correlation
        with self.cond:
            n = len(self.replies)
            self.c.publish(f"motcua/v1/{self.site}/{topic}", payload, qos=1, properties=props)
            assert self.cond.wait_for(lambda: len(self.replies) > n, 10), f"no reply to {payload[:60]!r}"
            return self.replies[n]

    def close(self) -> None:
        self.c.loop_stop()
        self.c.disconnect()


def test_malformed_payloads_are_refused_and_the_dispatcher_keeps_serving(broker, dispatcher, client, site):
    raw = RawDevice(broker, site)
    try:
        r = raw.send("request/raw-tester/ticket/issue", b"\xff\xfenot json")
        assert r["body"]["ok"] is False and r["body"]["error"]["code"] == "bad_payload"
        assert r["correlation"] == b"corr"

        body = {"command_id": "abcdef123456", "device_id": "raw-tester", "area": "TP", "colour": "red"}
        r = raw.send("request/raw-tester/ticket/issue", json.dumps(body).encode())
        assert r["body"]["command_id"] == "abcdef123456" and r["body"]["error"]["code"] == "bad_payload"
        assert "colour" in r["body"]["error"]["message"]

        # above the dispatcher's 64 KiB limit, below the broker's 256 KiB packet limit
        # (larger ones never reach it: tests/test_broker_security.py)
        big = json.dumps({"command_id": "bigbigbig1234", "device_id": "raw-tester", "area": "TP",
                          "pad": "x" * 100_000}).encode()
        r = raw.send("request/raw-tester/ticket/issue", big)
        assert r["body"]["error"]["code"] == "too_large"

        cmd = {"command_id": "counter99cmd", "device_id": "raw-tester"}
        r = raw.send("request/raw-tester/counter/99/next", json.dumps(cmd).encode())
        assert r["body"]["error"]["code"] == "unknown_counter"
        r = raw.send("request/raw-tester/counter/1/explode", json.dumps({**cmd, "command_id": "explode12345"}).encode())
        assert r["body"]["error"]["code"] == "bad_payload" and "no such request" in r["body"]["error"]["message"]
        req = {"command_id": "unknownarea1", "device_id": "raw-tester", "area": "ZZ"}
        r = raw.send("request/raw-tester/ticket/issue", json.dumps(req).encode())
        assert r["body"]["error"]["code"] == "unknown_area"
        # a response topic outside device/+/reply is not honoured: the answer goes to the sender's own
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = f"motcua/v1/{site}/counter/1/state"
        with raw.cond:
            n = len(raw.replies)
            raw.c.publish(f"motcua/v1/{site}/request/raw-tester/ticket/issue",
                          json.dumps({**req, "command_id": "spoofedreply1"}).encode(), qos=1, properties=props)
            assert raw.cond.wait_for(lambda: len(raw.replies) > n, 10)
    finally:
        raw.close()
    assert client.ticket("TP").ticket.number == "A1001"  # still serving, nothing was issued by the junk
    assert dispatcher.proc.poll() is None
    log = dispatcher.log()
    assert "refused message on" in log and "exceeds the 65536-byte limit" in log


def test_rating_counted_once(dispatcher, client, broker, site):
    client.ticket("TP")
    client.counter(1, "open", officer="lan.nguyen")
    ticket = client.counter(1, "next").counter.current
    window = client.counter(1, "finish").counter.rating_window
    assert window.ticket_id == ticket.ticket_id
    rating = Rating(rating_id=new_id(), device_id="pad-1", counter=1, ticket_id=ticket.ticket_id,
                    level="very_satisfied", rated_at=datetime.now(timezone.utc))
    with HallClient(site, mqtt=broker.mqtt("pad-1", "pad", 1)) as pad1, \
            HallClient(site, mqtt=broker.mqtt("pad-2", "pad", 2)) as pad2:
        first = pad1.rate(rating)
        assert first.ok and not first.duplicate
        again = pad1.rate(rating)
        assert again.ok and again.duplicate
        other = rating.model_copy(update={"rating_id": new_id()})
        assert pad1.rate(other).error.code == "not_allowed"  # already rated
        wrong = rating.model_copy(update={"rating_id": new_id(), "counter": 2})
        assert pad2.rate(wrong).error.code == "not_allowed"  # not served at counter 2
        with pytest.raises(NotAuthorized):  # and pad 1 cannot even send a rating for counter 2
            pad1.rate(wrong)
        with pytest.raises(NotAuthorized):  # nor can a technician's login put words in a citizen's mouth
            client.rate(rating.model_copy(update={"rating_id": new_id()}))
    import sqlite3

    db = sqlite3.connect(dispatcher.database)
    assert db.execute("SELECT COUNT(*), MIN(level), MIN(officer) FROM ratings").fetchone() == (1, "very_satisfied",
                                                                                              "lan.nguyen")


def test_dossier_cache_answers_with_its_age(dispatcher, client, site, publisher):
    unknown = client.lookup("H12.22-240115-0009")
    assert unknown.ok and not unknown.found
    record = DossierRecord(code="H12.22-240115-0001", procedure="Đăng ký khai sinh", status="ready",
                           ready_for_pickup=True, updated_at=datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))
    # as the province's system sends it down the bridge (tests/test_broker_bridge.py)
    publisher.publish(client.topics.dossier_status, DossierStatusUpdate(records=[record]).to_json(), qos=1)
    for _ in range(50):  # the update is asynchronous: poll the lookup until it appears
        r = client.lookup("H12.22-240115-0001")
        if r.found:
            break
    assert r.found and r.record == record and r.age_s is not None and r.age_s < 30


@contextlib.contextmanager
def old_kiosk(broker, site):
    """An MQTT 3.1.1 kiosk (no response topic, no correlation data) subscribed to its own reply topic:
    yields a send(body) that returns the reply."""
    got = threading.Event()
    replies = []
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="old-kiosk", protocol=mqtt.MQTTv311)
    c.username_pw_set("old-kiosk", broker.mqtt("old-kiosk", "kiosk").resolved_password())
    subscribed = threading.Event()
    c.on_connect = lambda cl, *_: cl.subscribe(f"motcua/v1/{site}/device/old-kiosk/reply", qos=1)
    c.on_subscribe = lambda *_: subscribed.set()
    c.on_message = lambda cl, u, m: (replies.append(json.loads(m.payload)), got.set())
    c.connect("127.0.0.1", broker.port)
    c.loop_start()

    def send(body: dict) -> dict:
        got.clear()
        c.publish(f"motcua/v1/{site}/request/old-kiosk/ticket/issue", json.dumps(body), qos=1)
        assert got.wait(10), body
        return replies[-1]

    try:
        assert subscribed.wait(10)
        yield send
    finally:
        c.loop_stop()
        c.disconnect()


def test_commands_answer_with_body_id_when_v5_properties_are_lost(broker, dispatcher, site):
    """An MQTT 3.1.1 hop drops the response topic: the login in the topic routes the reply, the body's command_id
    matches it."""
    with old_kiosk(broker, site) as send:
        reply = send({"command_id": "v311request01", "device_id": "old-kiosk", "area": "DD"})
        assert reply["command_id"] == "v311request01" and reply["ticket"]["number"] == "B2001"


def test_a_3_1_1_request_without_a_readable_command_id_is_answered_with_the_reason(broker, dispatcher, site):
    """No correlation data (3.1.1) and no usable command_id in the body: the login in the topic still says where
    to answer, so the sender is told why, with an empty command_id, and nothing is issued."""
    with old_kiosk(broker, site) as send:
        for body in ({"area": "DD"}, {"command_id": 12345, "area": "DD"}, {"command_id": "x" * 200, "area": "DD"}):
            reply = send(body)
            assert reply["ok"] is False and reply["command_id"] == ""
            assert reply["error"]["code"] == "bad_payload" and "command_id" in reply["error"]["message"]


def test_an_event_a_full_queue_turned_away_goes_out_on_the_next_tick(broker, site, tmp_path, watcher_factory):
    """paho turns a QoS 1 message away once ``mqtt.max_queued`` wait for the broker's acknowledgement. The
    dispatcher logs it, and an event from its outbox goes out on the next tick instead of being lost."""
    from daemonkit import DispatcherProcess

    # one message at a time: the ticket's reply waits for its acknowledgement, so its event, published
    # right after it on the same thread, finds the queue full
    d = DispatcherProcess(broker, site, tmp_path, MOTCUA_MQTT__MAX_QUEUED="1",
                          MOTCUA_MQTT__MAX_INFLIGHT="1").start()
    try:
        events = watcher_factory(f"motcua/v1/{site}/event/ticket")
        with HallClient(site, mqtt=broker.mqtt("kiosk-q", "kiosk"), timeout=10) as kiosk:
            reply = kiosk.ticket("TP")
            assert reply.ok
        issued = TicketEvent.model_validate_json(events.wait_for(lambda m: True, 10).payload)
        assert (issued.kind, issued.ticket.number) == ("issued", reply.ticket.number)
        log = d.log_path.read_text()
        assert "not sent on" in log and f"motcua/v1/{site}/event/ticket: Message queue full" in log
        assert "Traceback" not in log
    finally:
        d.stop()
