"""What the dispatcher's tick publishes for citizens' pages away from the hall: built fast, and the same
as the protocol's models say."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from daemonkit import DispatcherProcess, Watcher
from dispatcher import tracking
from hallfactory import HallDriver
from motcua.client import HallClient
from motcua.protocol import AreaQueue, QueuePlace, TicketTrack, tracking_key
from province.stand_in import BridgedSite, ProvinceBroker
from provincekit import wait_until
from test_web_province import Received

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def hall(tmp_path):
    d = HallDriver(tmp_path / "hall.db")
    yield d
    d.close()


def waiting_rows(d: HallDriver, area: str):
    return d.store.all("SELECT * FROM tickets WHERE day = ? AND area = ? AND status = 'waiting' ORDER BY queue_pos",
                       d.hall.views.day(), area)


def test_an_area_queue_is_exactly_the_models_json(hall):
    for n in range(7):
        assert hall.issue("TP", priority="elderly" if n in (2, 5) else None).reply.ok
    assert hall.issue("DD").reply.ok
    day = hall.hall.views.day()
    fast = tracking.area_queue(hall.store, day, "TP")
    again = tracking.area_queue(hall.store, day, "TP")  # second time from the remembered entries
    parsed = AreaQueue.model_validate_json(fast)
    rows = waiting_rows(hall, "TP")
    whole = AreaQueue(area="TP", day=date.fromisoformat(day), updated_at=parsed.updated_at, waiting=[
        QueuePlace(key=tracking_key(r["tracking_token"]), priority=r["priority"] is not None,
                   target_counter=r["target_counter"]) for r in rows])
    assert fast == whole.to_json()
    assert AreaQueue.model_validate_json(again).waiting == whole.waiting
    assert len(whole.waiting) == 7 and sum(p.priority for p in whole.waiting) == 2
    empty = AreaQueue.model_validate_json(tracking.area_queue(hall.store, day, "XX"))
    assert empty.waiting == [] and empty.area == "XX"


def test_a_queue_longer_than_a_message_holds_keeps_its_head(hall, monkeypatch):
    monkeypatch.setattr(tracking, "QUEUE_PLACES", 3)
    for _ in range(5):
        assert hall.issue("TP").reply.ok
    queue = AreaQueue.model_validate_json(tracking.area_queue(hall.store, hall.hall.views.day(), "TP"))
    assert [p.key for p in queue.waiting] == [tracking_key(r["tracking_token"]) for r in waiting_rows(hall, "TP")[:3]]


def test_changed_tickets_are_read_in_pieces_and_match_one_by_one(hall, monkeypatch):
    monkeypatch.setattr(tracking, "TICKETS_PER_QUERY", 2)
    ids = [hall.issue(area).reply.ticket.ticket_id for area in ("TP", "DD", "TP", "TP", "DD")]
    found = tracking.ticket_tracks(hall.store, reversed(ids + ids[:2]))  # any order, repeats
    rows = sorted(map(hall.store.ticket, ids), key=lambda r: (r["day"], r["queue_pos"], r["ticket_id"]))
    one_by_one = [tracking.track_of(r) for r in rows]
    strip = {"updated_at"}
    assert [(k, t.model_dump(exclude=strip)) for k, t in found] == \
        [(k, t.model_dump(exclude=strip)) for k, t in one_by_one]
    assert all(isinstance(t, TicketTrack) for _, t in found)


def test_a_daemon_going_online_leaves_its_start_up_heap_to_the_collector_no_more():
    """A full garbage collection of a daemon's start-up objects held the interpreter for 16–40 ms: after its runtime
    starts, they are frozen (once), so a collection walks only what came after."""
    probe = """
import gc
from motcua.runtime import DeviceRuntime
from motcua.settings import DeviceSettings, MqttSettings
rt = DeviceRuntime(DeviceSettings(site="t", device_id="kiosk-1", mqtt=MqttSettings(port=1)), "kiosk", announce=False)
before = gc.get_freeze_count()
rt.start()
frozen = gc.get_freeze_count()
rt.stop()
print(before, frozen, sum(gc.get_count()))
"""
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    before, frozen, _ = map(int, out.stdout.split())
    assert before == 0 and frozen > 10_000


def test_pages_published_while_the_bridge_is_down_reach_the_province_once_it_is_back(tmp_path):
    """The citizens' pages go out at QoS 0 (retained, superseded within a second): nothing queues them
    for a bridge that is down. The hall's broker sends the province every retained page it missed when
    the bridge connects again, so a citizen's page at the province catches up."""

    site = "hall-q"
    province = ProvinceBroker(tmp_path / "province", [site], readers=("watcher",)).start()
    hall = BridgedSite(tmp_path / "hall", site, province).start()
    dispatcher = DispatcherProcess(hall.broker, site, tmp_path).start()
    client = HallClient(site, mqtt=hall.broker.mqtt("tester", "operator"), timeout=10).start()
    received = None
    try:
        province.stop()
        reply = client.ticket("TP")
        assert reply.ok and reply.tracking_token
        key = tracking_key(reply.tracking_token)
        track_topic = f"motcua/v1/{site}/track/{key}"
        at_hall = Watcher(hall.broker, track_topic)
        page = at_hall.wait_for(lambda m: bool(m.payload), timeout=20)  # published at the hall, bridge still down
        at_hall.close()
        # it carries its expiry (tracking_expiry_h, 20 h by default): the brokers forget it by themselves
        assert 19 * 3600 < page.properties.MessageExpiryInterval <= 20 * 3600
        province.start()
        received = Received(province, "watcher")
        wait_until(lambda: any(topic == track_topic for topic, _ in received.all()), 90,
                   "the ticket's page at the province after the bridge came back")
        track = next(TicketTrack.model_validate_json(p) for t, p in received.all() if t == track_topic)
        assert track.number == reply.ticket.number and track.status == "waiting"
    finally:
        if received is not None:
            received.close()
        client.close()
        dispatcher.stop()
        hall.stop()
        province.stop()
    assert "Traceback" not in dispatcher.log()
