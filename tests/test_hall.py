"""The hall's queue rules (dispatcher.hall.Hall) on a real SQLite file, with a hand-driven clock.

The test hall (tests/hallfactory.py): areas TP (A1001-A1999) and DD
(B2001-B2999); counter 1 serves TP, counter 2 serves TP then DD, counter 3
serves DD; officers lan, minh, hoa; numbers restart at 04:00 local
(Asia/Ho_Chi_Minh); the clock starts on Wednesday 2024-05-15 09:00 local.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta

import pytest

from dispatcher.config import AreaConfig, CounterConfig, OpeningPeriod
from motcua.protocol import (
    CallEvent,
    DossierStatusUpdate,
    OpenCounter,
    TicketEvent,
    TicketReply,
)
from motcua.protocol import messages as m
from motcua.protocol import new_id
from motcua.protocol.messages import DossierRecord
from pydantic import ValidationError

from hallfactory import START, Clock, HallDriver, local, make_settings


@pytest.fixture
def make(tmp_path):
    """Build a driven hall on a fresh database file; keyword arguments go to make_settings."""
    drivers: list[HallDriver] = []

    def build(clock: Clock | None = None, **settings) -> HallDriver:
        d = HallDriver(tmp_path / f"hall{len(drivers)}.db", make_settings(**settings), clock)
        drivers.append(d)
        return d

    yield build
    for d in drivers:
        d.close()


@pytest.fixture
def h(make) -> HallDriver:
    return make()


def error_code(out) -> str | None:
    return out.reply.error.code if out.reply.error else None


def numbers(h: HallDriver, counter: int, times: int) -> list[str | None]:
    """Press next `times` times at a counter, each call finishing the previous ticket."""
    return [h.called(counter) for _ in range(times)]


def status(h: HallDriver, ticket_id: str) -> str:
    return h.store.ticket(ticket_id)["status"]


# ====================================================================== numbering


def test_numbers_start_at_first_number_and_are_contiguous_per_area(h):
    tp = [h.ticket("TP") for _ in range(3)]
    dd = h.ticket("DD")
    tp.append(h.ticket("TP"))

    assert [t.number for t in tp] == ["A1001", "A1002", "A1003", "A1004"]
    assert dd.number == "B2001"
    assert [t.status for t in tp] == ["waiting"] * 4
    assert tp[0].ticket_id == "20240515-TP-1001"
    assert tp[0].day == date(2024, 5, 15)
    assert tp[0].area == "TP" and tp[0].priority is None
    assert tp[0].issued_at == START


def test_priority_tickets_share_the_area_numbering(h):
    a = h.ticket("TP")
    b = h.ticket("TP", priority="elderly")
    c = h.ticket("TP")
    assert [a.number, b.number, c.number] == ["A1001", "A1002", "A1003"]
    assert b.priority == "elderly"


def test_exhausted_range_is_refused_and_stays_refused(make):
    h = make(areas=[
        AreaConfig(code="TP", name="Tư pháp", prefix="A", first_number=7, last_number=9),
        AreaConfig(code="DD", name="Đất đai", prefix="B", first_number=1, last_number=99),
    ])
    assert [h.ticket("TP").number for _ in range(3)] == ["A7", "A8", "A9"]

    out = h.issue("TP")
    assert not out.reply.ok and error_code(out) == "exhausted"
    assert out.reply.ticket is None
    assert error_code(h.issue("TP")) == "exhausted"
    # the other area is unaffected, and nothing was issued by the refusals
    assert h.ticket("DD").number == "B1"
    assert h.hall.area_summary("TP").issued_today == 3
    assert len(h.events("issued")) == 4


def test_single_number_area(make):
    h = make(areas=[
        AreaConfig(code="TP", name="Tư pháp", prefix="A", first_number=0, last_number=0),
        AreaConfig(code="DD", name="Đất đai", prefix="B", first_number=1, last_number=2),
    ])
    assert h.ticket("TP").number == "A0"
    assert error_code(h.issue("TP")) == "exhausted"


def test_unknown_area_and_unknown_category_are_refused(h):
    out = h.issue("XX")
    assert not out.reply.ok and error_code(out) == "unknown_area"
    out = h.issue("TP", priority="veteran")
    assert not out.reply.ok and error_code(out) == "unknown_category"

    assert h.events() == []
    assert h.hall.dispatcher_state("x").issued_today == 0
    assert h.ticket("TP").number == "A1001"  # no number was used up


@pytest.mark.parametrize("when, is_open", [
    (local(2024, 5, 15, 6, 59, 59), False),   # Wednesday, before opening
    (local(2024, 5, 15, 7, 0), True),         # opening time itself
    (local(2024, 5, 15, 16, 59, 59), True),
    (local(2024, 5, 15, 17, 0), False),       # closing time itself: closed
    (local(2024, 5, 18, 9, 0), True),         # Saturday morning
    (local(2024, 5, 18, 11, 30), False),      # Saturday after 11:30
    (local(2024, 5, 19, 9, 0), False),        # Sunday
])
def test_opening_hours(make, when, is_open):
    h = make(clock=Clock(when), opening_hours=[
        OpeningPeriod(days=[1, 2, 3, 4, 5], open=time(7, 0), close=time(17, 0)),
        OpeningPeriod(days=[6], open=time(7, 0), close=time(11, 30)),
    ])
    out = h.issue("TP")
    if is_open:
        assert out.reply.ok and out.reply.ticket.number == "A1001"
    else:
        assert not out.reply.ok and error_code(out) == "closed_hours"
        assert h.events() == []


def test_opening_hours_are_local_time_not_utc(make):
    # 07:30 local is 00:30 UTC: open, although UTC says it is before 07:00
    clock = Clock(local(2024, 5, 15, 7, 30))
    h = make(clock=clock, opening_hours=[OpeningPeriod(days=[3], open=time(7, 0), close=time(17, 0))])
    assert h.issue("TP").reply.ok
    clock.set(local(2024, 5, 15, 17, 30))  # 10:30 UTC: closed
    assert error_code(h.issue("TP")) == "closed_hours"


def test_refused_outside_hours_then_issued_when_open(make):
    clock = Clock(local(2024, 5, 15, 6, 30))
    h = make(clock=clock, opening_hours=[OpeningPeriod(days=[1, 2, 3, 4, 5], open=time(7, 0), close=time(17, 0))])
    assert error_code(h.issue("TP")) == "closed_hours"
    clock.set(local(2024, 5, 15, 7, 0, 1))
    assert h.ticket("TP").number == "A1001"


def test_tickets_before_reset_time_belong_to_the_previous_service_day(make):
    clock = Clock(local(2024, 5, 15, 23, 0))
    h = make(clock=clock)
    first = h.ticket("TP")
    clock.set(local(2024, 5, 16, 3, 59, 59))  # after midnight, before the 04:00 reset
    second = h.ticket("TP")
    assert first.day == second.day == date(2024, 5, 15)
    assert second.number == "A1002"
    assert second.ticket_id == "20240515-TP-1002"
    assert h.hall.hall_config().day == date(2024, 5, 15)

    clock.set(local(2024, 5, 16, 4, 0))
    third = h.ticket("TP")
    assert third.day == date(2024, 5, 16) and third.number == "A1001"
    assert third.ticket_id == "20240516-TP-1001"
    assert h.hall.hall_config().day == date(2024, 5, 16)


def test_daily_reset_expires_yesterdays_queue_and_restarts_numbers(make):
    clock = Clock(local(2024, 5, 15, 16, 0))
    h = make(clock=clock)
    h.open(1)
    h.open(3)
    served = h.ticket("TP")
    being_served = h.ticket("TP")
    waiting = h.ticket("TP")
    skipped = h.ticket("DD")
    assert h.called(1) == served.number
    assert h.called(1) == being_served.number  # finishes `served`
    assert h.called(3) == skipped.number
    assert h.cmd(3, "skip").reply.ok

    clock.set(local(2024, 5, 16, 4, 0, 1))
    out = h.hall.tick()
    assert out.counters == {1, 2, 3} and out.areas == {"TP", "DD"}

    assert status(h, served.ticket_id) == "done"          # history stays history
    assert status(h, being_served.ticket_id) == "expired"
    assert status(h, waiting.ticket_id) == "expired"
    assert status(h, skipped.ticket_id) == "expired"
    # the counter no longer shows yesterday's ticket, nor its rating window
    state = h.hall.counter_state(1)
    assert state.current is None and state.rating_window is None
    assert state.status == "open"  # staff at work stay logged in

    assert h.hall.area_summary("TP").waiting == 0
    assert h.hall.area_summary("TP").issued_today == 0
    assert h.called(1) is None  # yesterday's waiting ticket is never called
    assert h.ticket("TP").number == "A1001"
    assert h.ticket("DD").number == "B2001"
    ds = h.hall.dispatcher_state("x")
    assert ds.day == date(2024, 5, 16) and ds.issued_today == 2

    # the central system hears the end of each unserved ticket's life
    expired = {e.ticket.ticket_id for e in h.events("expired")}
    assert expired == {being_served.ticket_id, waiting.ticket_id, skipped.ticket_id}

    # a second tick on the same day changes nothing
    assert h.hall.tick().counters == set()


def test_daily_reset_also_happens_on_the_first_command_of_the_day(make):
    clock = Clock(local(2024, 5, 15, 16, 0))
    h = make(clock=clock)
    old = h.ticket("TP")
    clock.set(local(2024, 5, 16, 7, 0))  # no tick ran overnight
    out = h.issue("TP")
    assert out.reply.ticket.number == "A1001"
    assert out.areas == {"TP", "DD"} and out.counters == {1, 2, 3}  # every retained view is republished
    assert status(h, old.ticket_id) == "expired"


def test_expired_ticket_cannot_be_reactivated_or_cancelled(make):
    clock = Clock(local(2024, 5, 15, 16, 0))
    h = make(clock=clock)
    h.open(1)
    t = h.ticket("TP")
    h.called(1)
    h.cmd(1, "skip")
    waiting = h.ticket("TP")
    clock.set(local(2024, 5, 16, 7, 0))
    assert error_code(h.cmd(1, "reactivate", number=t.number)) in ("unknown_ticket", "bad_state")
    assert error_code(h.cancel(waiting.ticket_id)) == "bad_state"


def test_numbering_survives_reopening_the_database(h):
    h.ticket("TP")
    h.ticket("TP")
    h.ticket("DD")
    h.reopen()
    assert h.ticket("TP").number == "A1003"
    assert h.ticket("DD").number == "B2002"
    h.reopen()
    assert h.hall.area_summary("TP").issued_today == 3
    assert h.hall.area_summary("TP").waiting == 3


def test_queue_and_counters_survive_reopening(h):
    h.open(1)
    a = h.ticket("TP")
    b = h.ticket("TP")
    h.called(1)
    h.reopen()
    state = h.hall.counter_state(1)
    assert state.status == "open" and state.current.ticket_id == a.ticket_id
    assert h.called(1) == b.number


def test_day_rolls_over_while_the_dispatcher_was_down(h):
    old = h.ticket("TP")
    h.store.close()
    h.clock.advance(days=1)
    h.reopen()
    assert status(h, old.ticket_id) == "expired"
    assert h.ticket("TP").number == "A1001"


# ====================================================================== idempotency


def test_same_command_id_returns_the_same_reply_and_changes_nothing(h):
    first = h.issue("TP", command_id="kiosk1-000000001")
    h.clock.advance(minutes=1)
    again = h.issue("TP", command_id="kiosk1-000000001")

    assert again.replayed and not first.replayed
    assert again.reply == first.reply
    assert again.reply.ticket.number == "A1001"
    assert again.counters == set() and again.areas == set()
    assert len(h.events("issued")) == 1
    assert h.ticket("TP").number == "A1002"  # no number was consumed by the retry


def test_replay_survives_a_restart(h):
    first = h.issue("TP", command_id="kiosk1-000000001")
    h.reopen()
    again = h.issue("TP", command_id="kiosk1-000000001")
    assert again.replayed and again.reply == first.reply


def test_refusals_are_replayed_too(h):
    first = h.issue("XX", command_id="kiosk1-000000002")
    again = h.issue("XX", command_id="kiosk1-000000002")
    assert again.replayed and again.reply == first.reply and error_code(again) == "unknown_area"


def test_same_command_id_for_a_different_command_is_refused(h):
    h.issue("TP", command_id="kiosk1-000000003")
    out = h.issue("DD", command_id="kiosk1-000000003")
    assert not out.reply.ok and error_code(out) == "id_reused"
    assert not out.replayed
    # a counter command with an id already used for a ticket
    out = h.cmd(1, "open", command_id="kiosk1-000000003", officer="lan")
    assert error_code(out) == "id_reused"
    assert h.hall.counter_state(1).status == "closed"
    assert h.hall.area_summary("DD").issued_today == 0


def test_same_command_id_on_another_counter_is_refused(h):
    assert h.cmd(1, "open", command_id="keypad-00000001", officer="lan").reply.ok
    out = h.cmd(2, "open", command_id="keypad-00000001", officer="lan")
    assert error_code(out) == "id_reused"
    assert h.hall.counter_state(2).status == "closed"


def test_counter_command_retry_does_not_call_twice(h):
    h.open(1)
    h.ticket("TP")
    h.ticket("TP")
    first = h.cmd(1, "next", command_id="keypad1-0000001")
    again = h.cmd(1, "next", command_id="keypad1-0000001")
    assert again.replayed and again.reply == first.reply
    assert h.hall.counter_state(1).current.number == "A1001"
    assert len(h.calls()) == 1


def test_retry_with_a_new_sent_at_is_still_the_same_command(h):
    h.open(1)
    h.ticket("TP")
    h.ticket("TP")
    cmd1 = OpenCounter(command_id="keypad1-0000002", device_id="keypad-1", officer="lan",
                       sent_at=datetime(2024, 5, 15, 2, 0, 0).astimezone())
    cmd2 = cmd1.model_copy(update={"sent_at": datetime(2024, 5, 15, 2, 0, 5).astimezone()})
    first = h.hall.counter_command(1, "open", cmd1, sender="keypad-1")
    again = h.hall.counter_command(1, "open", cmd2, sender="keypad-1")
    assert again.replayed and again.reply == first.reply


# ====================================================================== counter commands


def test_open_refuses_an_officer_not_on_the_list(h):
    out = h.cmd(1, "open", officer="stranger")
    assert not out.reply.ok and error_code(out) == "unknown_officer"
    assert out.reply.counter.status == "closed"  # the keypad still sees the counter as it is

    out = h.cmd(1, "open", officer="lan")
    assert out.reply.ok
    state = out.reply.counter
    assert state.status == "open" and state.officer is None and state.officer_name == "Nguyễn Thị Lan"
    assert state.name == "Quầy 1"
    assert h.hall.counter_state(2).name == "Quầy hai"


def test_any_officer_may_open_when_the_hall_lists_none(make):
    h = make(officers=[])
    out = h.cmd(1, "open", officer="anyone")
    assert out.reply.ok and out.reply.counter.officer_name is None
    assert h.store.one("SELECT officer FROM counters WHERE number = 1")["officer"] == "anyone"


def test_unknown_counter_is_refused(h):
    out = h.cmd(9, "open", officer="lan")
    assert error_code(out) == "unknown_counter" and out.reply.counter is None


def test_next_requires_an_open_counter(h):
    h.ticket("TP")
    out = h.next(1)
    assert not out.reply.ok and error_code(out) == "bad_state"  # closed
    assert error_code(h.cmd(1, "pause")) == "bad_state"         # cannot pause a closed counter

    h.open(1)
    assert error_code(h.cmd(1, "resume")) == "bad_state"        # not paused
    paused = h.cmd(1, "pause")
    assert paused.reply.ok and paused.reply.counter.status == "paused"
    out = h.next(1)
    assert not out.reply.ok and error_code(out) == "bad_state"
    assert out.reply.counter.current is None
    assert h.hall.area_summary("TP").waiting == 1

    resumed = h.cmd(1, "resume")
    assert resumed.reply.ok and resumed.reply.counter.status == "open"
    assert h.called(1) == "A1001"


def test_paused_counter_does_not_count_as_open(h):
    h.open(1)
    h.open(2)
    assert h.hall.area_summary("TP").open_counters == 2
    h.cmd(1, "pause")
    assert h.hall.area_summary("TP").open_counters == 1
    h.cmd(2, "close")
    assert h.hall.area_summary("TP").open_counters == 0


def test_close_finishes_the_current_ticket(h):
    h.open(1)
    t = h.ticket("TP")
    h.called(1)
    h.clock.advance(minutes=4)
    out = h.cmd(1, "close")
    assert out.reply.ok
    state = out.reply.counter
    assert state.status == "closed" and state.officer is None and state.current is None
    assert state.rating_window is not None and state.rating_window.ticket_id == t.ticket_id
    assert status(h, t.ticket_id) == "done"
    assert [e.kind for e in h.events()][-1] == "finished"
    # closed: nothing more is called
    h.ticket("TP")
    assert error_code(h.next(1)) == "bad_state"


def test_next_calls_in_order_of_arrival(h):
    h.open(1)
    issued = [h.ticket("TP").number for _ in range(4)]
    assert numbers(h, 1, 4) == issued


def test_next_finishes_current_and_opens_rating_window(h):
    h.open(1)
    a = h.ticket("TP")
    b = h.ticket("TP")
    h.called(1)
    h.clock.advance(minutes=3)
    out = h.next(1)
    assert out.reply.ok
    state = out.reply.counter
    assert state.current.ticket_id == b.ticket_id and state.current.status == "called"
    assert state.current.called_at == h.clock()
    assert state.rating_window.ticket_id == a.ticket_id
    assert state.rating_window.number == "A1001"
    assert state.rating_window.officer is None  # officer ids stay off the public TV
    assert state.rating_window.opened_at == h.clock()
    assert state.rating_window.closes_at == h.clock() + timedelta(seconds=30)
    done = h.store.to_ticket(h.store.ticket(a.ticket_id))
    assert done.status == "done" and done.finished_at == h.clock() and done.counter == 1


def test_next_on_an_empty_queue_still_finishes_the_current_ticket(h):
    h.open(1)
    a = h.ticket("TP")
    h.called(1)
    out = h.next(1)
    assert not out.reply.ok and error_code(out) == "empty"
    state = out.reply.counter
    assert state.current is None
    assert state.rating_window is not None and state.rating_window.ticket_id == a.ticket_id
    # the finish was committed, not rolled back with the refusal
    assert status(h, a.ticket_id) == "done"
    assert h.hall.counter_state(1).rating_window.ticket_id == a.ticket_id
    assert [e.kind for e in h.events()] == ["issued", "called", "finished"]
    # and pressing next again on the empty queue is harmless
    assert error_code(h.next(1)) == "empty"
    assert h.hall.counter_state(1).rating_window.ticket_id == a.ticket_id


def test_next_refused_while_serving_when_next_does_not_finish(make):
    h = make(rules={"next_finishes_current": False})
    h.open(1)
    a = h.ticket("TP")
    h.ticket("TP")
    h.called(1)
    out = h.next(1)
    assert error_code(out) == "bad_state"
    assert out.reply.counter.current.ticket_id == a.ticket_id
    assert h.cmd(1, "finish").reply.ok
    assert h.called(1) == "A1002"


def test_recall_announces_again(h):
    h.open(2)
    t = h.ticket("DD")
    h.called(2)
    h.clock.advance(seconds=40)
    out = h.cmd(2, "recall")
    assert out.reply.ok and out.reply.counter.current.ticket_id == t.ticket_id
    h.cmd(2, "recall")

    calls = h.calls()
    assert [(c.number, c.recall, c.call_count) for c in calls] == [
        ("B2001", False, 1), ("B2001", True, 2), ("B2001", True, 3)]
    assert calls[1].counter == 2 and calls[1].counter_name == "Quầy hai" and calls[1].area == "DD"
    assert calls[1].at == START + timedelta(seconds=40)
    assert h.store.ticket(t.ticket_id)["call_count"] == 3
    recalled = h.events("recalled")
    assert len(recalled) == 2 and recalled[0].counter == 2 and recalled[0].officer == "minh"
    assert status(h, t.ticket_id) == "called"


def test_recall_with_nothing_being_served_is_refused(h):
    h.open(1)
    assert error_code(h.cmd(1, "recall")) == "bad_state"
    assert h.calls() == []


def test_skip_then_reactivate_puts_the_ticket_first_for_that_counter(h):
    h.open(1)
    h.open(2)
    late = h.ticket("TP")
    others = [h.ticket("TP") for _ in range(3)]
    assert h.called(1) == late.number
    out = h.cmd(1, "skip")
    assert out.reply.ok and out.reply.counter.current is None
    assert out.reply.counter.rating_window is None  # a skipped citizen was not served: nothing to rate
    assert status(h, late.ticket_id) == "skipped"
    assert h.called(1) == others[0].number

    h.clock.advance(minutes=10)
    out = h.cmd(1, "reactivate", number=late.number)
    assert out.reply.ok
    assert status(h, late.ticket_id) == "waiting"
    assert h.events("reactivated")[0].ticket.target_counter == 1
    # reserved for counter 1: counter 2, which also serves TP, does not get it
    assert h.called(2) == others[1].number
    # counter 1 gets it before the older waiting ticket
    assert h.called(1) == late.number
    assert h.called(1) == others[2].number


def test_reactivate_window_boundaries(make):
    h = make(rules={"reactivate_window_min": 30})
    h.open(1)
    a = h.ticket("TP")
    b = h.ticket("TP")
    h.called(1)
    h.cmd(1, "skip")
    h.called(1)
    h.cmd(1, "skip")

    h.clock.advance(minutes=30)  # exactly at the end of the window: still allowed
    assert h.cmd(1, "reactivate", number=a.number).reply.ok
    h.clock.advance(seconds=1)
    out = h.cmd(1, "reactivate", number=b.number)
    assert not out.reply.ok and error_code(out) == "bad_state"
    assert status(h, b.ticket_id) == "skipped"


def test_reactivate_refuses_tickets_that_are_not_skipped_or_unknown(h):
    h.open(1)
    t = h.ticket("TP")
    assert error_code(h.cmd(1, "reactivate", number=t.number)) == "bad_state"  # waiting
    assert error_code(h.cmd(1, "reactivate", number="A1500")) == "unknown_ticket"


def test_reactivated_ticket_skipped_again_can_come_back_again(h):
    h.open(1)
    t = h.ticket("TP")
    h.called(1)
    h.cmd(1, "skip")
    h.cmd(1, "reactivate", number=t.number)
    assert h.called(1) == t.number
    h.cmd(1, "skip")
    h.clock.advance(minutes=5)
    assert h.cmd(1, "reactivate", number=t.number).reply.ok


def _transfer_setup(make, position: str):
    """B2001, A1001, B2002 issued in that order; counter 1 calls A1001 and sends it to DD."""
    h = make(rules={"transfer_position": position})
    h.open(1)
    h.open(3)
    h.ticket("DD")
    moved = h.ticket("TP")
    h.clock.advance(minutes=1)
    h.ticket("DD")
    assert h.called(1) == moved.number
    out = h.cmd(1, "transfer", to_area="DD")
    assert out.reply.ok and out.reply.counter.current is None
    return h, moved, out


@pytest.mark.parametrize("position, order", [
    ("front", ["A1001", "B2001", "B2002"]),
    ("original", ["B2001", "A1001", "B2002"]),
    ("back", ["B2001", "B2002", "A1001"]),
])
def test_transfer_to_area_lands_by_the_rule(make, position, order):
    h, moved, out = _transfer_setup(make, position)
    assert out.areas >= {"TP", "DD"}
    t = h.events("transferred")[0]
    assert t.ticket.area == "DD" and t.ticket.status == "waiting" and t.detail == "to area DD"
    assert t.counter == 1 and t.officer == "lan"
    assert h.hall.area_summary("DD").waiting == 3
    assert numbers(h, 3, 4) == order + [None]


def test_transferred_ticket_keeps_its_number_and_is_not_finished(make):
    h, moved, _ = _transfer_setup(make, "front")
    state = h.hall.counter_state(1)
    assert state.current is None and state.rating_window is None  # not served here: nothing to rate
    assert h.called(3) == moved.number
    assert h.hall.counter_state(3).current.ticket_id == moved.ticket_id
    assert h.hall.area_summary("TP").issued_today == 1  # counted where it was issued


def test_transfer_to_an_area_with_no_numbers_yet_keeps_its_numbering(h):
    # DD has issued nothing today when the TP ticket is transferred there and called
    h.open(1)
    h.open(3)
    h.ticket("TP")
    h.called(1)
    h.cmd(1, "transfer", to_area="DD")
    assert h.called(3) == "A1001"
    assert h.ticket("DD").number == "B2001"


def test_transfer_to_counter_goes_to_that_counter_only_and_first(h):
    for n in (1, 2, 3):
        h.open(n)
    moved = h.ticket("TP")
    h.ticket("DD")               # B2001: older than the transfer, in the area counter 3 serves
    h.ticket("TP")               # A1002
    assert h.called(1) == moved.number
    out = h.cmd(1, "transfer", to_counter=3)
    assert out.reply.ok and 3 in out.counters
    ev = h.events("transferred")[0]
    assert ev.ticket.target_counter == 3 and ev.detail == "to counter 3"

    assert h.called(2) == "A1002"   # counter 2 serves TP but the ticket is reserved for 3
    assert h.called(1) is None
    assert h.called(3) == moved.number  # first, although B2001 waited longer
    current = h.hall.counter_state(3).current
    assert current.target_counter is None and current.counter == 3
    assert h.called(3) == "B2001"


def test_transfer_to_a_counter_of_another_area_keeps_the_area(h):
    h.open(1)
    h.open(3)
    t = h.ticket("TP")
    h.called(1)
    h.cmd(1, "transfer", to_counter=3)
    assert h.hall.area_summary("TP").waiting == 1
    assert h.called(3) == t.number


def test_transfer_refusals(h):
    h.open(1)
    assert error_code(h.cmd(1, "transfer", to_area="DD")) == "bad_state"  # nothing being served
    t = h.ticket("TP")
    h.called(1)
    assert error_code(h.cmd(1, "transfer", to_counter=1)) == "bad_state"
    # exactly one target: the message itself refuses anything else, before the hall sees it
    with pytest.raises(ValidationError, match="exactly one"):
        m.Transfer(command_id=new_id(), device_id="keypad-1")
    with pytest.raises(ValidationError, match="exactly one"):
        m.Transfer(command_id=new_id(), device_id="keypad-1", to_area="DD", to_counter=3)
    assert error_code(h.cmd(1, "transfer", to_area="XX")) == "unknown_area"
    assert error_code(h.cmd(1, "transfer", to_counter=42)) == "unknown_counter"
    # none of that moved the ticket
    assert h.hall.counter_state(1).current.ticket_id == t.ticket_id
    assert h.events("transferred") == []


def test_finish_opens_a_rating_window_that_tick_closes(make):
    h = make(rules={"rating_window_s": 45})
    h.open(1)
    t = h.ticket("TP")
    h.called(1)
    h.clock.advance(minutes=6)
    finished_at = h.clock()
    out = h.cmd(1, "finish")
    assert out.reply.ok
    w = out.reply.counter.rating_window
    assert w.ticket_id == t.ticket_id and w.area == "TP" and w.officer is None
    assert w.opened_at == finished_at
    assert w.closes_at == finished_at + timedelta(seconds=45)
    assert out.reply.counter.current is None

    h.clock.advance(seconds=44)
    assert h.hall.tick().counters == set()
    assert h.hall.counter_state(1).rating_window is not None
    h.clock.advance(seconds=1)
    assert h.hall.tick().counters == {1}
    assert h.hall.counter_state(1).rating_window is None
    assert h.hall.tick().counters == set()


def test_finish_with_nothing_being_served_is_refused(h):
    h.open(1)
    out = h.cmd(1, "finish")
    assert error_code(out) == "bad_state"
    assert h.events() == []


def test_attach_dossier_to_current_then_to_just_finished_ticket(h):
    h.open(1)
    a = h.ticket("TP")
    b = h.ticket("TP")
    h.called(1)
    out = h.cmd(1, "attach_dossier", dossier_code="HS-2024-0001")
    assert out.reply.ok and out.reply.counter.current.dossier_code is None  # not on the public TV
    assert h.store.ticket(out.reply.counter.current.ticket_id)["dossier_code"] == "HS-2024-0001"

    h.called(1)                 # finishes a, calls b
    h.cmd(1, "finish")          # b in the rating window
    out = h.cmd(1, "attach_dossier", dossier_code="HS-2024-0002")
    assert out.reply.ok
    assert h.store.ticket(out.reply.counter.rating_window.ticket_id)["dossier_code"] == "HS-2024-0002"
    assert h.store.ticket(a.ticket_id)["dossier_code"] == "HS-2024-0001"
    assert h.store.ticket(b.ticket_id)["dossier_code"] == "HS-2024-0002"
    ev = h.events("dossier_attached")
    assert [(e.ticket.ticket_id, e.detail) for e in ev] == [(a.ticket_id, "HS-2024-0001"),
                                                           (b.ticket_id, "HS-2024-0002")]


def test_attach_dossier_with_no_ticket_is_refused(h):
    h.open(1)
    assert error_code(h.cmd(1, "attach_dossier", dossier_code="HS-2024-0001")) == "bad_state"
    h.ticket("TP")
    h.called(1)
    h.cmd(1, "finish")
    h.clock.advance(seconds=31)
    h.hall.tick()
    assert error_code(h.cmd(1, "attach_dossier", dossier_code="HS-2024-0001")) == "bad_state"


# ====================================================================== priority and area order


def test_strict_priority_always_goes_first(make):
    h = make(rules={"priority_rule": "strict"})
    h.open(1)
    for p in (None, None, "elderly", None, "pregnant", None):
        h.ticket("TP", priority=p)
    assert numbers(h, 1, 7) == ["A1003", "A1005", "A1001", "A1002", "A1004", "A1006", None]


def test_interleave_one_priority_after_every_three_normal(make):
    h = make(rules={"priority_rule": "interleave", "priority_every": 3})
    h.open(1)
    normal = [h.ticket("TP").number for _ in range(7)]              # A1001..A1007
    prio = [h.ticket("TP", priority="elderly").number for _ in range(3)]  # A1008..A1010
    called = numbers(h, 1, 11)
    # no priority served yet: the first priority ticket goes first, then N, N, N, P ...
    assert called == [prio[0], *normal[0:3], prio[1], *normal[3:6], prio[2], normal[6], None]


def test_interleave_a_priority_ticket_waits_for_at_most_n_normal_calls(make):
    h = make(rules={"priority_rule": "interleave", "priority_every": 2})
    h.open(1)
    for _ in range(5):
        h.ticket("TP")
    assert numbers(h, 1, 1) == ["A1001"]                 # only normal waiting
    p1 = h.ticket("TP", priority="disabled").number         # A1006
    # no priority ticket called yet today: it waits for nobody
    assert numbers(h, 1, 1) == [p1]
    p2 = h.ticket("TP", priority="elderly").number          # A1007
    # after a priority call, the next one waits for two normal calls, counted from that call
    assert numbers(h, 1, 4) == ["A1002", "A1003", p2, "A1004"]


def test_interleave_counts_each_area_on_its_own(make):
    h = make(rules={"priority_rule": "interleave", "priority_every": 3})
    h.open(1)
    h.open(3)
    for _ in range(4):
        h.ticket("TP")
    h.ticket("TP", priority="elderly")   # A1005
    h.ticket("DD")
    h.ticket("DD", priority="elderly")   # B2002
    assert h.called(1) == "A1005"
    assert h.called(3) == "B2002"        # DD's own count: no priority served there yet
    assert numbers(h, 1, 2) == ["A1001", "A1002"]


def test_priority_category_only_waits_behind_priority(h):
    for _ in range(5):
        h.ticket("TP")
    out = h.issue("TP", priority="elderly")
    assert out.reply.waiting_ahead == 0
    out = h.issue("TP", priority="pregnant")
    assert out.reply.waiting_ahead == 1


def test_counter_order_serves_the_first_area_until_empty(make):
    h = make(rules={"area_order": "counter_order"})
    h.open(2)  # serves TP, then DD
    h.ticket("DD")
    h.clock.advance(minutes=1)
    h.ticket("TP")
    h.ticket("TP")
    assert numbers(h, 2, 4) == ["A1001", "A1002", "B2001", None]


def test_oldest_first_serves_the_longest_waiting_across_areas(make):
    h = make(rules={"area_order": "oldest_first"})
    h.open(2)
    h.ticket("DD")
    h.ticket("TP")
    h.ticket("DD")
    h.ticket("TP")
    assert numbers(h, 2, 5) == ["B2001", "A1001", "B2002", "A1002", None]


def test_counter_only_serves_its_own_areas(h):
    h.open(1)
    h.ticket("DD")
    assert error_code(h.next(1)) == "empty"
    h.open(3)
    assert h.called(3) == "B2001"


# ====================================================================== ratings


def _served(h: HallDriver, counter: int = 1, area: str = "TP"):
    """A ticket called and finished at `counter`."""
    h.open(counter)
    t = h.ticket(area)
    assert h.called(counter) == t.number
    assert h.cmd(counter, "finish").reply.ok
    return t


def test_rating_of_a_ticket_finished_at_that_counter(h):
    t = _served(h)
    out = h.rate(1, t.ticket_id, rating_id="rating-0000001", level="very_satisfied")
    assert out.reply.ok and not out.reply.duplicate and out.reply.command_id == "rating-0000001"
    assert out.counters == {1}
    assert h.hall.counter_state(1).rating_window is None  # the pad's window closes once rated
    row = h.store.one("SELECT * FROM ratings WHERE rating_id = ?", "rating-0000001")
    assert row["ticket_id"] == t.ticket_id and row["level"] == "very_satisfied"
    assert row["counter"] == 1 and row["officer"] == "lan" and row["area"] == "TP"


def test_rating_records_the_dispatchers_view_not_the_pads(h):
    t = _served(h)
    rating = h.rating(1, t.ticket_id).model_copy(update={"officer": "hoa", "area": "DD"})
    assert h.hall.rate(1, rating, sender="pad-1").reply.ok
    row = h.store.one("SELECT officer, area FROM ratings")
    assert (row["officer"], row["area"]) == ("lan", "TP")


def test_rating_after_the_window_closed_is_still_accepted(h):
    # the pad retries until acknowledged: a late retry must not lose the citizen's answer
    t = _served(h)
    h.clock.advance(minutes=2)
    h.hall.tick()
    assert h.rate(1, t.ticket_id).reply.ok


def test_duplicate_rating_id_is_acknowledged_and_stored_once(h):
    t = _served(h)
    first = h.rate(1, t.ticket_id, rating_id="rating-0000002")
    again = h.rate(1, t.ticket_id, rating_id="rating-0000002")
    assert first.reply.ok and not first.reply.duplicate
    assert again.reply.ok and again.reply.duplicate
    assert again.counters == set()
    assert h.row_count("ratings") == 1


def test_second_rating_of_the_same_ticket_is_refused(h):
    t = _served(h)
    assert h.rate(1, t.ticket_id, level="satisfied").reply.ok
    out = h.rate(1, t.ticket_id, level="unsatisfied")
    assert not out.reply.ok and error_code(out) == "not_allowed"
    assert h.store.scalar("SELECT level FROM ratings") == "satisfied"


def test_rating_of_another_counters_ticket_is_refused(h):
    t = _served(h, counter=1)
    h.open(2)
    out = h.rate(2, t.ticket_id)
    assert not out.reply.ok and error_code(out) == "not_allowed"
    assert h.row_count("ratings") == 0
    assert h.hall.counter_state(1).rating_window is not None


def test_rating_whose_body_names_another_counter_is_refused(h):
    t = _served(h, counter=1)
    out = h.rate(2, t.ticket_id, body_counter=1)  # counter 1's rating on counter 2's topic
    assert error_code(out) == "not_allowed"
    out = h.rate(1, t.ticket_id, body_counter=2)
    assert error_code(out) == "not_allowed"
    assert h.row_count("ratings") == 0


def test_rating_of_an_unfinished_ticket_is_refused(h):
    h.open(1)
    waiting = h.ticket("TP")
    assert error_code(h.rate(1, waiting.ticket_id)) == "not_allowed"
    h.called(1)
    assert error_code(h.rate(1, waiting.ticket_id)) == "not_allowed"  # being served
    h.cmd(1, "skip")
    assert error_code(h.rate(1, waiting.ticket_id)) == "not_allowed"  # skipped
    assert h.row_count("ratings") == 0


def test_rating_of_unknown_ticket_or_counter_is_refused(h):
    assert error_code(h.rate(1, "20240515-TP-1500")) == "unknown_ticket"
    assert error_code(h.rate(9, None)) == "unknown_counter"
    assert h.row_count("ratings") == 0


def test_general_rating_refused_by_default(h):
    out = h.rate(1, None)
    assert not out.reply.ok and error_code(out) == "not_allowed"
    assert h.row_count("ratings") == 0


def test_general_rating_accepted_when_the_hall_allows_it(make):
    h = make(allow_general_ratings=True)
    out = h.rate(3, None, level="unsatisfied", rating_id="rating-general1")
    assert out.reply.ok and out.counters == set()
    row = h.store.one("SELECT * FROM ratings")
    assert row["ticket_id"] is None and row["counter"] == 3 and row["level"] == "unsatisfied"
    assert h.rate(3, None, rating_id="rating-general1").reply.duplicate
    assert h.rate(3, None).reply.ok  # general ratings are not limited to one
    assert h.row_count("ratings") == 2


def test_rating_carries_the_attached_dossier(h):
    h.open(1)
    t = h.ticket("TP")
    h.called(1)
    h.cmd(1, "finish")
    h.cmd(1, "attach_dossier", dossier_code="HS-2024-0099")
    assert h.rate(1, t.ticket_id).reply.ok
    assert h.store.scalar("SELECT dossier_code FROM ratings") == "HS-2024-0099"


# ====================================================================== dossiers


def _record(code: str, status: str, updated: datetime, **kw) -> DossierRecord:
    return DossierRecord(code=code, procedure="Đăng ký khai sinh", status=status, updated_at=updated, **kw)


def test_dossier_update_then_lookup(h):
    rec = _record("HS-2024-0001", "processing", local(2024, 5, 14, 10, 0))
    assert h.hall.update_dossiers(DossierStatusUpdate(records=[rec])) == 1
    h.clock.advance(seconds=90)
    reply = h.lookup("HS-2024-0001")
    assert reply.ok and reply.found
    assert reply.record == rec
    assert reply.received_at == START
    assert reply.age_s == 90.0


def test_older_dossier_record_does_not_overwrite_a_newer_one(h):
    newer = _record("HS-2024-0001", "ready", local(2024, 5, 15, 8, 0), ready_for_pickup=True)
    older = _record("HS-2024-0001", "processing", local(2024, 5, 14, 10, 0))
    h.hall.update_dossiers(DossierStatusUpdate(records=[newer]))
    h.clock.advance(minutes=5)
    assert h.hall.update_dossiers(DossierStatusUpdate(records=[older])) == 0
    reply = h.lookup("HS-2024-0001")
    assert reply.record == newer
    assert reply.received_at == START  # the stale message did not refresh it either
    assert reply.age_s == 300.0

    newest = _record("HS-2024-0001", "returned", local(2024, 5, 15, 8, 0, 0) + timedelta(microseconds=500))
    assert h.hall.update_dossiers(DossierStatusUpdate(records=[newest])) == 1
    assert h.lookup("HS-2024-0001").record.status == "returned"


def test_dossier_update_counts_only_changed_records(h):
    a = _record("HS-A-001", "received", local(2024, 5, 15, 8, 0))
    b = _record("HS-B-001", "received", local(2024, 5, 15, 8, 0))
    assert h.hall.update_dossiers(DossierStatusUpdate(records=[a, b])) == 2
    a2 = _record("HS-A-001", "processing", local(2024, 5, 15, 8, 30))
    b_old = _record("HS-B-001", "rejected", local(2024, 5, 15, 7, 0))
    assert h.hall.update_dossiers(DossierStatusUpdate(records=[a2, b_old])) == 1
    assert h.lookup("HS-A-001").record.status == "processing"
    assert h.lookup("HS-B-001").record.status == "received"


def test_unknown_dossier_is_not_found(h):
    reply = h.lookup("HS-9999-9999")
    assert reply.ok and not reply.found and reply.record is None and reply.age_s is None


def test_dossiers_survive_a_restart(h):
    rec = _record("HS-2024-0001", "ready", local(2024, 5, 15, 8, 0))
    h.hall.update_dossiers(DossierStatusUpdate(records=[rec]))
    h.reopen()
    assert h.lookup("HS-2024-0001").record == rec


# ====================================================================== cancel


def test_cancelled_ticket_is_never_called(h):
    h.open(1)
    a = h.ticket("TP")
    b = h.ticket("TP")
    out = h.cancel(a.ticket_id, reason="printer jam")
    assert out.reply.ok and isinstance(out.reply, TicketReply)
    assert out.reply.ticket.status == "cancelled" and out.reply.ticket.finished_at == START
    assert out.areas == {"TP"}
    ev = h.events("cancelled")
    assert len(ev) == 1 and ev[0].detail == "printer jam"
    assert h.hall.area_summary("TP").waiting == 1
    assert numbers(h, 1, 2) == [b.number, None]
    assert status(h, a.ticket_id) == "cancelled"


def test_cancelling_twice_is_harmless(h):
    a = h.ticket("TP")
    h.cancel(a.ticket_id)
    out = h.cancel(a.ticket_id)  # a different command id: same end state, no second event
    assert out.reply.ok and out.reply.ticket.status == "cancelled"
    assert len(h.events("cancelled")) == 1


def test_called_ticket_cannot_be_cancelled(h):
    h.open(1)
    a = h.ticket("TP")
    h.called(1)
    out = h.cancel(a.ticket_id)
    assert not out.reply.ok and error_code(out) == "bad_state"
    assert status(h, a.ticket_id) == "called"
    assert h.hall.counter_state(1).current.ticket_id == a.ticket_id


def test_only_the_issuing_kiosk_cancels(h):
    a = h.ticket("TP")  # issued by kiosk-1
    out = h.cancel(a.ticket_id, device_id="kiosk-2")
    assert not out.reply.ok and error_code(out) == "not_allowed" and "kiosk-1" in out.reply.error.message
    assert status(h, a.ticket_id) == "waiting"


def test_cancel_unknown_ticket(h):
    assert error_code(h.cancel("20240515-TP-1234")) == "unknown_ticket"


# ====================================================================== estimates


def test_first_ticket_has_nobody_ahead(h):
    out = h.issue("TP")
    assert out.reply.waiting_ahead == 0 and out.reply.estimated_wait_min == 0


def test_estimate_uses_default_service_time_and_open_counters(make):
    h = make(rules={"default_service_min": 5.0})
    for _ in range(3):
        h.ticket("TP")
    out = h.issue("TP")  # 3 ahead, no counter open: as if one were
    assert out.reply.waiting_ahead == 3 and out.reply.estimated_wait_min == 15
    h.open(1)
    h.open(2)             # both serve TP
    out = h.issue("TP")
    assert out.reply.waiting_ahead == 4
    assert out.reply.estimated_wait_min == math.ceil(5.0 * 4 / 2)
    h.open(3)             # serves DD only: no change for TP
    assert h.issue("TP").reply.estimated_wait_min == math.ceil(5.0 * 5 / 2)


def test_estimate_uses_measured_service_time(make):
    h = make(rules={"default_service_min": 5.0})
    h.open(1)
    h.ticket("TP")
    h.ticket("TP")
    h.called(1)
    h.clock.advance(minutes=8)
    h.cmd(1, "finish")
    out = h.issue("TP")  # A1002 ahead, one counter, 8 minutes a ticket
    assert out.reply.waiting_ahead == 1 and out.reply.estimated_wait_min == 8
    assert h.hall.area_summary("TP").average_service_min == 8.0
    # DD has no history: still the default
    h.ticket("DD")
    assert h.issue("DD").reply.estimated_wait_min == 5


# ====================================================================== outbox


def test_events_land_in_the_outbox_in_order_with_their_topics(h):
    ticket_topic = "motcua/v1/test/event/ticket"
    call_topic = "motcua/v1/test/event/call"
    outcome_topic = "motcua/v1/test/event/outcome"
    h.open(1)
    a = h.ticket("TP")
    b = h.ticket("TP")
    h.called(1)
    h.called(1)
    h.cmd(1, "finish")

    box = h.outbox()
    kinds = [(topic, body.get("kind")) for topic, body in box]
    assert kinds == [
        (ticket_topic, "issued"),
        (ticket_topic, "issued"),
        (call_topic, None),
        (ticket_topic, "called"),
        (ticket_topic, "finished"),   # next finishes a...
        (outcome_topic, None),        # ...which ends its life...
        (call_topic, None),           # ...then calls b
        (ticket_topic, "called"),
        (ticket_topic, "finished"),
        (outcome_topic, None),
    ]
    ids = [r["id"] for r in h.store.outbox()]
    assert ids == sorted(ids)

    events = h.events()
    assert [e.ticket.ticket_id for e in events] == [a.ticket_id, b.ticket_id, a.ticket_id, a.ticket_id,
                                                    b.ticket_id, b.ticket_id]
    issued = events[0]
    assert issued.detail == "kiosk-1" and issued.counter is None and issued.at == START
    called = events[2]
    assert called.counter == 1 and called.officer == "lan" and called.ticket.status == "called"
    assert events[3].ticket.status == "done"
    calls = h.calls()
    assert [(c.number, c.counter, c.recall, c.call_count) for c in calls] == [
        ("A1001", 1, False, 1), ("A1002", 1, False, 1)]
    assert all(isinstance(c, CallEvent) for c in calls)
    assert len({e.event_id for e in events}) == len(events)


def test_refused_and_replayed_commands_add_no_events(h):
    h.issue("TP", command_id="kiosk1-00000010")
    h.drain()
    h.issue("TP", command_id="kiosk1-00000010")     # replay
    h.issue("XX")                                   # refused
    h.cmd(1, "next")                                # counter closed
    h.cmd(1, "open", officer="nobody")              # unknown officer
    assert h.outbox() == []


def test_delivered_events_leave_the_outbox_and_undelivered_ones_survive_restart(h):
    h.ticket("TP")
    h.ticket("TP")
    first, second = h.store.outbox()
    h.store.delivered([first["id"]])
    h.reopen()
    rows = h.store.outbox()
    assert [r["id"] for r in rows] == [second["id"]]
    assert TicketEvent.model_validate_json(rows[0]["payload"]).ticket.number == "A1002"


def test_full_ticket_lifecycle_events(h):
    for n in (1, 3):
        h.open(n)
    t = h.ticket("TP")
    h.called(1)
    h.cmd(1, "recall")
    h.cmd(1, "skip")
    h.cmd(1, "reactivate", number=t.number)
    h.called(1)
    h.cmd(1, "transfer", to_area="DD")
    h.called(3)
    h.cmd(3, "attach_dossier", dossier_code="HS-2024-0007")
    h.cmd(3, "finish")
    assert [e.kind for e in h.events()] == [
        "issued", "called", "recalled", "skipped", "reactivated", "called", "transferred", "called",
        "dossier_attached", "finished"]
    assert {e.ticket.ticket_id for e in h.events()} == {t.ticket_id}
    assert h.events("finished")[0].counter == 3 and h.events("finished")[0].officer == "hoa"
    assert [c.counter for c in h.calls()] == [1, 1, 1, 3]


# ====================================================================== retained views


def test_area_summary_reflects_the_queue(h):
    h.open(1)
    h.open(2)
    s = h.hall.area_summary("TP")
    assert (s.area, s.name, s.waiting, s.issued_today, s.served_today, s.open_counters) == (
        "TP", "Tư pháp - hộ tịch", 0, 0, 0, 2)
    assert s.last_called is None and s.average_wait_min is None and s.average_service_min is None

    h.ticket("TP")
    h.ticket("TP", priority="elderly")
    h.ticket("TP")
    s = h.hall.area_summary("TP")
    assert (s.waiting, s.waiting_priority, s.issued_today) == (3, 1, 3)

    h.clock.advance(minutes=10)
    assert h.called(1) == "A1002"  # priority first (interleave, none served yet)
    h.clock.advance(minutes=4)
    h.cmd(1, "finish")
    s = h.hall.area_summary("TP")
    assert (s.waiting, s.waiting_priority, s.served_today, s.last_called) == (2, 0, 1, "A1002")
    assert s.average_wait_min == 10.0
    assert s.average_service_min == 4.0

    h.clock.advance(minutes=1)
    assert h.called(2) == "A1001"
    s = h.hall.area_summary("TP")
    assert s.last_called == "A1001"
    assert s.average_wait_min == pytest.approx((10.0 + 15.0) / 2, abs=0.1)
    assert h.hall.area_summary("DD").issued_today == 0


def test_counter_state_reflects_commands(h):
    s = h.hall.counter_state(2)
    assert (s.counter, s.name, s.status, s.officer, s.current, s.rating_window) == (2, "Quầy hai", "closed",
                                                                                   None, None, None)
    h.open(2)
    t = h.ticket("DD")
    h.clock.advance(minutes=1)
    h.called(2)
    s = h.hall.counter_state(2)
    assert s.status == "open" and s.officer is None and s.officer_name == "Trần Văn Minh"
    assert s.current.ticket_id == t.ticket_id and s.current.counter == 2
    assert s.updated_at == h.clock()
    h.cmd(2, "pause")
    s = h.hall.counter_state(2)
    assert s.status == "paused" and s.current.ticket_id == t.ticket_id  # pausing keeps the citizen


def test_outcome_names_the_views_to_republish(h):
    h.open(1)
    out = h.open(2)
    assert out.counters == {2} and out.areas == {"TP", "DD"}  # open_counters changed in both
    out = h.issue("DD")
    assert out.counters == set() and out.areas == {"DD"}
    out = h.next(2)
    assert out.counters == {2} and "DD" in out.areas
    h.ticket("TP")
    assert h.called(1) == "A1001"
    out = h.cmd(1, "transfer", to_counter=2)
    assert out.counters == {1, 2} and out.areas == {"TP"}


def test_hall_config(h):
    c = h.hall.hall_config()
    assert c.site == "test" and c.hall_name == "Trung tâm Phục vụ hành chính công thử nghiệm"
    assert [(a.code, a.prefix, a.first_number, a.last_number) for a in c.areas] == [
        ("TP", "A", 1001, 1999), ("DD", "B", 2001, 2999)]
    assert [(k.number, k.name, k.areas) for k in c.counters] == [
        (1, "Quầy 1", ["TP"]), (2, "Quầy hai", ["TP", "DD"]), (3, "Quầy 3", ["DD"])]
    assert {p.code for p in c.priority_categories} == {"elderly", "disabled", "pregnant", "small_children"}
    assert c.day == date(2024, 5, 15)


def test_dispatcher_state_counts_the_day(h):
    h.open(1)
    h.ticket("TP")
    h.ticket("TP")
    h.ticket("DD")
    h.called(1)
    h.cmd(1, "finish")
    s = h.hall.dispatcher_state("/tmp/x.db")
    assert (s.day, s.issued_today, s.waiting, s.served_today, s.database) == (
        date(2024, 5, 15), 3, 2, 1, "/tmp/x.db")
    assert s.started_at == START


# ====================================================================== reconfiguration


def test_a_counter_removed_from_the_settings_while_open_does_not_break_the_hall(h):
    h.open(3)
    h.ticket("DD")
    h.called(3)
    h.cmd(3, "finish")  # leaves a rating window open in the database
    h.reopen(make_settings(counters=[CounterConfig(number=1, areas=["TP"]),
                                     CounterConfig(number=2, areas=["TP", "DD"])]))
    out = h.issue("DD")
    assert out.reply.ok and out.reply.ticket.number == "B2002"
    assert h.hall.area_summary("DD").open_counters == 0
    h.clock.advance(minutes=1)
    assert h.hall.tick().counters == set()
    assert error_code(h.cmd(3, "next")) == "unknown_counter"


def test_reactivate_needs_a_counter_that_will_call_it(h):
    h.open(1)
    t = h.ticket("TP")
    assert h.called(1) == t.number
    assert h.cmd(1, "skip").reply.ok
    # counter 3 is closed: a ticket reserved for it would wait forever
    assert error_code(h.cmd(3, "reactivate", number=t.number)) == "bad_state"
    h.open(3)
    assert h.cmd(3, "pause").reply.ok
    assert h.cmd(3, "reactivate", number=t.number).reply.ok  # paused is fine: it is called after the break


def test_each_ticket_gets_its_own_unguessable_tracking_token(h):
    """The queue page's token: random per ticket, stored with it, returned only in the issue reply."""
    first, second = h.issue("TP").reply, h.issue("TP").reply
    tokens = [first.tracking_token, second.tracking_token]
    assert all(t and len(t) >= 22 for t in tokens) and tokens[0] != tokens[1]
    assert all(first.ticket.ticket_id not in t for t in tokens)
    row = h.store.one("SELECT ticket_id FROM tickets WHERE tracking_token = ?", tokens[1])
    assert row["ticket_id"] == second.ticket.ticket_id
    assert all(tokens[0] not in str(payload) for _, payload in h.outbox())  # never broadcast
    replay = h.issue("TP", command_id=first.command_id).reply
    assert replay.tracking_token == tokens[0]  # a retried request gets the same ticket and the same token


def test_a_database_from_before_the_tracking_token_is_migrated_forward(tmp_path):
    """Schema version 2 (the release before the queue page) gains the token column; its tickets have none."""
    import sqlite3

    from dispatcher.store import MIGRATIONS, SCHEMA, SCHEMA_VERSION, Store

    path = tmp_path / "v2.db"
    old = sqlite3.connect(path)
    old.executescript(SCHEMA)
    old.executescript(MIGRATIONS[2])
    old.execute("PRAGMA user_version = 2")
    old.execute("INSERT INTO tickets(ticket_id, day, issue_area, area, number, status, queue_pos, issued_at) "
                "VALUES('20260302-TP-1', '2026-03-02', 'TP', 'TP', 'A1', 'waiting', 1, '2026-03-02T01:00:00+00:00')")
    old.commit()
    old.close()
    store = Store(path)
    try:
        assert store.version == SCHEMA_VERSION
        assert store.one("SELECT tracking_token FROM tickets")["tracking_token"] is None
        store.db.execute("UPDATE tickets SET tracking_token = 'abcdefghijklmnopqrstuv'")
        with pytest.raises(sqlite3.IntegrityError):  # a token names one ticket only
            store.db.execute("INSERT INTO tickets(ticket_id, day, issue_area, area, number, status, queue_pos, "
                             "issued_at, tracking_token) VALUES('x', '2026-03-02', 'TP', 'TP', 'A2', 'waiting', 2, "
                             "'2026-03-02T01:00:00+00:00', 'abcdefghijklmnopqrstuv')")
    finally:
        store.close()
    Store(path).close()  # opening again changes nothing
