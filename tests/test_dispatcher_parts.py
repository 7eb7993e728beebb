"""The dispatcher's parts: the command table matches the protocol, the queue rules need no database."""

from __future__ import annotations

from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

from dispatcher import rules
from dispatcher.hall import COMMANDS, COUNTER_HANDLERS, reply_type
from motcua.protocol import COUNTER_ACTIONS, CounterReply, Reply, TicketReply


def test_every_counter_action_of_the_protocol_has_one_handler_and_one_reply_type():
    assert set(COUNTER_HANDLERS) == set(COUNTER_ACTIONS)
    assert all(COMMANDS[f"counter.{a}"].reply is CounterReply for a in COUNTER_ACTIONS)


def test_stored_kinds_map_to_their_reply_types():
    assert reply_type("ticket.issue") is TicketReply
    assert reply_type("ticket.cancel") is TicketReply
    assert reply_type("counter.12.next") is CounterReply
    assert reply_type("rating") is Reply


def test_interleave_rule_without_a_database():
    normal, prio = {"queue_pos": 5}, {"queue_pos": 9}
    choose = rules.choose_in_area
    assert choose(normal, prio, rule="strict", normal_since_priority=0, priority_every=3) is prio
    # before the first priority call of the day, a priority ticket waits for nobody
    assert choose(normal, prio, rule="interleave", normal_since_priority=None, priority_every=3) is prio
    assert choose(normal, prio, rule="interleave", normal_since_priority=2, priority_every=3) is normal
    assert choose(normal, prio, rule="interleave", normal_since_priority=3, priority_every=3) is prio
    assert choose(None, prio, rule="interleave", normal_since_priority=0, priority_every=3) is prio
    assert rules.choose_across_areas([None, prio, normal], area_order="oldest_first") is normal
    assert rules.choose_across_areas([None, prio, normal], area_order="counter_order") is prio


def test_service_day_turns_at_the_reset_time():
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    before = datetime(2024, 5, 15, 20, 30, tzinfo=timezone.utc)  # 03:30 local on the 16th
    after = datetime(2024, 5, 15, 21, 30, tzinfo=timezone.utc)   # 04:30 local
    assert rules.service_day(before, tz, time(4)).isoformat() == "2024-05-15"
    assert rules.service_day(after, tz, time(4)).isoformat() == "2024-05-16"
