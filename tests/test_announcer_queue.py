"""The announcement queue's policy, with a controllable clock: order, recall merging, stale calls, the bound."""

from __future__ import annotations

import pytest

from announcer.queue import AnnouncementQueue, Call, Outcome


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def call(ticket: str, counter: int, at: float, *, recall: bool = False, n: int = 1, event: str = "") -> Call:
    return Call(ticket_id=f"20260302-X-{ticket}", number=ticket, counter=counter, at=at, recall=recall,
                call_count=n, event_id=event or f"ev-{ticket}-{counter}-{n}")


def drain(q: AnnouncementQueue) -> list[Call]:
    out = []
    while True:
        c, _ = q.pop()
        if c is None:
            return out
        out.append(c)


def test_burst_from_several_counters_keeps_arrival_order():
    clock = Clock()
    q = AnnouncementQueue(max_len=50, max_age_s=60, clock=clock)
    sent = []
    for i in range(30):
        c = call(f"A{1001 + i}", counter=1 + i % 7, at=clock.t)
        sent.append(c.number)
        assert q.push(c).outcome is Outcome.QUEUED
        clock.t += 0.01
    assert [c.number for c in drain(q)] == sent


def test_recall_of_a_waiting_ticket_is_merged():
    clock = Clock()
    q = AnnouncementQueue(clock=clock)
    q.push(call("A1001", 1, clock.t))
    q.push(call("B2001", 3, clock.t))
    r = q.push(call("A1001", 1, clock.t + 1, recall=True, n=2))
    assert r.outcome is Outcome.MERGED
    assert len(q) == 2
    first, second = drain(q)
    assert (first.number, first.recall, first.call_count) == ("A1001", True, 2)
    assert second.number == "B2001"


def test_merge_takes_the_newest_counter():
    clock = Clock()
    q = AnnouncementQueue(clock=clock)
    q.push(call("A1001", 1, clock.t))
    q.push(call("A1001", 4, clock.t + 1, n=2))
    (c,) = drain(q)
    assert c.counter == 4


def test_recall_after_it_was_spoken_is_spoken_again():
    clock = Clock()
    q = AnnouncementQueue(clock=clock)
    q.push(call("A1001", 1, clock.t))
    assert [c.number for c in drain(q)] == ["A1001"]
    assert q.push(call("A1001", 1, clock.t, recall=True, n=2)).outcome is Outcome.QUEUED
    assert len(q) == 1


def test_the_same_event_twice_is_a_duplicate():
    clock = Clock()
    q = AnnouncementQueue(clock=clock)
    c = call("A1001", 1, clock.t, event="e1")
    q.push(c)
    drain(q)
    assert q.push(c).outcome is Outcome.DUPLICATE  # QoS 1 redelivery after it was spoken
    assert len(q) == 0


def test_stale_on_arrival_is_dropped():
    clock = Clock()
    q = AnnouncementQueue(max_age_s=60, clock=clock)
    assert q.push(call("A1001", 1, clock.t - 61)).outcome is Outcome.STALE
    assert q.push(call("A1002", 1, clock.t - 59)).outcome is Outcome.QUEUED
    assert len(q) == 1


def test_stale_while_waiting_is_dropped_at_its_turn():
    clock = Clock()
    q = AnnouncementQueue(max_age_s=60, clock=clock)
    q.push(call("A1001", 1, clock.t))
    q.push(call("A1002", 2, clock.t + 30))
    clock.t += 75  # an outage: the first is now 75 s old, the second 45 s
    c, dropped = q.pop()
    assert [d.number for d in dropped] == ["A1001"]
    assert c.number == "A1002"
    assert q.counts["stale_at_turn"] == 1


def test_bound_drop_oldest():
    clock = Clock()
    q = AnnouncementQueue(max_len=3, clock=clock)
    for t in ("A1", "A2", "A3"):
        q.push(call(t, 1, clock.t))
    r = q.push(call("A4", 2, clock.t))
    assert r.outcome is Outcome.QUEUED and r.evicted.number == "A1"
    assert len(q) == 3
    assert [c.number for c in drain(q)] == ["A2", "A3", "A4"]


def test_bound_drop_newest():
    clock = Clock()
    q = AnnouncementQueue(max_len=3, when_full="drop_newest", clock=clock)
    for t in ("A1", "A2", "A3"):
        q.push(call(t, 1, clock.t))
    assert q.push(call("A4", 2, clock.t)).outcome is Outcome.FULL
    assert [c.number for c in drain(q)] == ["A1", "A2", "A3"]


def test_full_queue_makes_room_from_stale_calls_first():
    clock = Clock()
    q = AnnouncementQueue(max_len=2, max_age_s=60, when_full="drop_newest", clock=clock)
    q.push(call("A1", 1, clock.t))
    q.push(call("A2", 1, clock.t + 50))
    clock.t += 70
    assert q.push(call("A3", 1, clock.t)).outcome is Outcome.QUEUED
    assert [c.number for c in drain(q)] == ["A2", "A3"]


def test_a_recall_into_a_full_queue_merges():
    clock = Clock()
    q = AnnouncementQueue(max_len=2, when_full="drop_newest", clock=clock)
    q.push(call("A1", 1, clock.t))
    q.push(call("A2", 1, clock.t))
    assert q.push(call("A1", 1, clock.t, n=2)).outcome is Outcome.MERGED


def test_bad_bound():
    with pytest.raises(ValueError):
        AnnouncementQueue(max_len=0)
