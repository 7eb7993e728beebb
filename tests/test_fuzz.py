"""Fuzzing the production hall: thousands of hostile messages on every request topic each role may write, from
logins of every writing role, over MQTT v5 and 3.1.1. Every message the broker lets through is answered with
a reason; the dispatcher stays up, answers a valid command afterwards, and logs no traceback.

Deterministic (a fixed seed): a failure reproduces. The summary line printed at the end (run with ``-s``) gives
the figures: messages, replies by code, tracebacks.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from attackkit import ProductionHall
from fuzzkit import hostile, request_body
from motcua.protocol import COUNTER_ACTIONS, new_id

PER_ROLE = 2000
SEED = 20261201

ACTIONS = [*COUNTER_ACTIONS, "explode", "next/again"]
COUNTER_LEVELS = ["1", "2", "³", "0", "1000", "٣", "01", "99"]
# (login, its counter-free request paths): what each writing role may send
ROLES = {
    "kiosk-1": lambda r: r.choice(["ticket/issue", "ticket/cancel", "dossier/lookup"]),
    "counter-1": lambda r: f"counter/1/{r.choice(ACTIONS)}",
    "pad-1": lambda r: "rating/1",
    "tech-1": lambda r: r.choice([f"counter/{r.choice(COUNTER_LEVELS)}/{r.choice(ACTIONS)}", "ticket/issue",
                                  "ticket/cancel", "dossier/lookup"]),
    "web-1": lambda r: r.choice([f"counter/{r.choice(COUNTER_LEVELS)}/{r.choice(['open', 'close', 'pause', 'transfer'])}",
                                 "ticket/cancel"]),
}


@pytest.fixture(scope="module")
def hall(tmp_path_factory):
    h = ProductionHall(tmp_path_factory.mktemp("fuzzed")).start()
    yield h
    h.stop()


class Fuzzer:
    def __init__(self, hall: ProductionHall, login: str, protocol):
        self.hall, self.login = hall, login
        self.replies: Counter = Counter()
        self.answered: set[bytes] = set()
        self.cond = threading.Condition()
        self.denied = 0
        self.sent: dict[int, bytes] = {}
        self.early: dict[int, object] = {}  # mid -> the broker's answer, for acks that beat send() to its lock
        self.through: set[bytes] = set()
        self.sizes: dict[bytes, int] = {}  # each message's payload size, by its tag
        self.v5 = protocol == mqtt.MQTTv5
        self.c = hall.fuzz_client(login, protocol, self._reply, self._acked)

    def _acked(self, client, userdata, mid, rc, props):
        with self.cond:
            if mid in self.sent:
                self._count(self.sent.pop(mid), rc)
            else:  # acknowledged before send() noted the mid (paho calls back from its network thread)
                self.early[mid] = rc
            self.cond.notify_all()

    def _count(self, tag: bytes, rc) -> None:
        if rc is not None and getattr(rc, "is_failure", False):
            self.denied += 1
        else:
            self.through.add(tag)

    def _reply(self, client, userdata, msg):
        body = json.loads(msg.payload)  # a reply we cannot parse is a failure of ours: let it raise
        corr = getattr(msg.properties, "CorrelationData", None) if msg.properties else None
        with self.cond:
            self.answered.add(corr or body["command_id"].encode())
            self.replies[(body.get("error") or {}).get("code", "ok")] += 1
            self.cond.notify_all()

    def send(self, path: str, payload: bytes, tag: bytes, response_topic: str | None) -> None:
        props = None
        if self.v5:
            props = Properties(PacketTypes.PUBLISH)
            props.CorrelationData = tag
            if response_topic:
                props.ResponseTopic = response_topic
        self.sizes[tag] = len(payload)
        info = self.c.publish(self.hall.topic(f"request/{self.login}/{path}"), payload, qos=1, properties=props)
        with self.cond:
            if info.mid in self.early:
                self._count(tag, self.early.pop(info.mid))
            else:
                self.sent[info.mid] = tag
            while len(self.sent) > 40:  # keep a bounded number in flight
                self.cond.wait(5)
            # ...and a bounded number and size unanswered: the broker queues at most max_queued_bytes
            # (4 MiB) for the dispatcher and drops beyond that (its flood protection), so a sender faster
            # than a loaded dispatcher would lose requests at the broker (a hundred hostile bodies of up
            # to 70 kB each can pass 4 MiB), which is not what this test is about.
            deadline = time.monotonic() + 30
            while self.v5 and time.monotonic() < deadline:
                waiting = self.through - self.answered
                if len(waiting) <= 100 and sum(self.sizes[t] for t in waiting) <= 1 << 20:
                    break
                self.cond.wait(1)

    def wait_answered(self, timeout: float, quiet: float = 1.0) -> set[bytes]:
        """Until every message the broker let through is answered (v5: correlation data always names it)
        or, for 3.1.1 (whose unreadable bodies name nothing), until replies stop coming for ``quiet`` s."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.sent or not self.through <= self.answered:
                left = deadline - time.monotonic()
                if left <= 0 or not self.cond.wait(min(left, quiet if not self.v5 else left)):
                    break
            return self.through - self.answered

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


def test_thousands_of_hostile_messages_per_role(hall):
    r = random.Random(SEED)
    totals: Counter = Counter()
    messages = denied = answered_v5 = 0
    for login, paths in ROLES.items():
        for protocol in (mqtt.MQTTv5, mqtt.MQTTv311):
            f = Fuzzer(hall, login, protocol)
            try:
                for i in range(PER_ROLE // 2):
                    path = paths(r)
                    tag = f"fuzz{login}{protocol}{i:05d}".replace("-", "").encode()
                    body = request_body(r, path)
                    key = "rating_id" if path.startswith("rating") else "command_id"
                    body[key] = tag.decode()  # without v5 properties, the body's id matches the reply
                    payload = hostile(r, body) if r.random() < 0.85 else json.dumps(body).encode()
                    rt = r.choice([None, hall.topic("device/+/reply"), hall.topic("device/kiosk-2/reply"),
                                   hall.topic("hall/config"), "#"])
                    f.send(path, payload, tag, rt)
                    messages += 1
                unanswered = f.wait_answered(30)
                if f.v5:
                    answered_v5 += len(f.through)
                    assert not unanswered, (f"{login}: {len(unanswered)} messages got no reply, e.g. "
                                            f"{sorted(unanswered)[:3]}; the dispatcher's log ends: {hall.log()[-3000:]}; the broker's: "
                                            f"{(hall.workdir / 'data' / 'mosquitto.stderr').read_text()[-2000:]}")
                totals.update(f.replies)
                denied += f.denied
            finally:
                f.close()
    # the dispatcher is still up and still serving
    assert hall.daemon.poll() is None
    tech = hall.login("tech-1")
    try:
        tech.subscribe(hall.topic("device/tech-1/reply"))
        cid = new_id()
        tech.publish(hall.topic("request/tech-1/counter/9/open"), {"command_id": cid, "officer": "lan.nguyen"})
        assert tech.reply_to(cid, 30)["ok"]
    finally:
        tech.close()
    log = hall.log()
    tracebacks = log.count("Traceback")
    print(json.dumps({"fuzz_messages": messages, "denied_by_broker": denied, "replies_by_code": dict(totals),
                      "tracebacks": tracebacks}, sort_keys=True))
    assert tracebacks == 0, log[log.index("Traceback") - 500:][:4000]
    assert answered_v5 >= messages // 2 - denied  # every v5 message the broker let through was answered
