"""What the dispatcher's tick publishes for citizens' pages away from the hall: built fast, and the same
as the protocol's models say."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from dispatcher import tracking
from hallfactory import HallDriver
from motcua.protocol import AreaQueue, QueuePlace, TicketTrack, tracking_key

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
