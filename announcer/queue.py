"""The announcement queue: FIFO with recall merging, stale dropping and a bound. Pure logic.

No threads and no real time here: the caller passes a clock (seconds since the
epoch, the same scale as a call event's ``at``) and does its own locking.

Policy
------
* First in, first out, in the order the dispatcher's call events arrive.
* A call for a ticket that is already waiting (a recall pressed before the first
  call was spoken, or the same event delivered twice) is merged into the waiting
  entry: it keeps its place, takes the newest counter, and is spoken once.
* A call older than ``max_age_s`` (by its event time) is dropped, on arrival and
  again when its turn comes: after an outage the hall must not hear a backlog of
  numbers that were called minutes ago. The hall board still shows them.
* At most ``max_len`` calls wait. When one more arrives, ``drop_oldest`` (default)
  discards the call that has waited longest (it is the most likely to be stale,
  and the newest call is the one a citizen is about to act on); ``drop_newest``
  refuses the arriving call instead.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Literal

FullPolicy = Literal["drop_oldest", "drop_newest"]


@dataclass(frozen=True)
class Call:
    """What the announcer needs of a call event."""

    ticket_id: str
    number: str
    counter: int
    at: float  # event time, seconds since the epoch
    event_id: str = ""
    recall: bool = False
    call_count: int = 1


class Outcome(str, Enum):
    QUEUED = "queued"
    MERGED = "merged"
    DUPLICATE = "duplicate"
    STALE = "stale"
    FULL = "full"  # the arriving call was refused (drop_newest)


@dataclass
class PushResult:
    outcome: Outcome
    evicted: Call | None = None  # the waiting call dropped to make room (drop_oldest)


class AnnouncementQueue:
    def __init__(self, max_len: int = 20, max_age_s: float = 120.0, when_full: FullPolicy = "drop_oldest",
                 clock: Callable[[], float] | None = None, remember_events: int = 512):
        if max_len < 1:
            raise ValueError("max_len must be at least 1")
        self.max_len = max_len
        self.max_age_s = max_age_s
        self.when_full = when_full
        self.clock = clock or time.time
        self._waiting: OrderedDict[str, Call] = OrderedDict()  # ticket_id -> call, in arrival order
        self._seen: deque[str] = deque(maxlen=remember_events)
        self._seen_set: set[str] = set()
        self.counts = {o.value: 0 for o in Outcome} | {"evicted": 0, "stale_at_turn": 0}

    def __len__(self) -> int:
        return len(self._waiting)

    def waiting(self) -> list[Call]:
        return list(self._waiting.values())

    def is_stale(self, call: Call) -> bool:
        return self.clock() - call.at > self.max_age_s

    def push(self, call: Call) -> PushResult:
        result = self._push(call)
        self.counts[result.outcome.value] += 1
        if result.evicted is not None:
            self.counts["evicted"] += 1
        return result

    def _push(self, call: Call) -> PushResult:
        if call.event_id:
            if call.event_id in self._seen_set:
                return PushResult(Outcome.DUPLICATE)
            if len(self._seen) == self._seen.maxlen:
                self._seen_set.discard(self._seen[0])
            self._seen.append(call.event_id)
            self._seen_set.add(call.event_id)
        if self.is_stale(call):
            return PushResult(Outcome.STALE)
        waiting = self._waiting.get(call.ticket_id)
        if waiting is not None:
            # keep the place in line; speak the newest counter once
            self._waiting[call.ticket_id] = replace(
                waiting, number=call.number, counter=call.counter, at=max(waiting.at, call.at),
                recall=waiting.recall or call.recall, call_count=max(waiting.call_count, call.call_count),
                event_id=call.event_id or waiting.event_id,
            )
            return PushResult(Outcome.MERGED)
        evicted = None
        if len(self._waiting) >= self.max_len:
            self._drop_stale()
        if len(self._waiting) >= self.max_len:
            if self.when_full == "drop_newest":
                return PushResult(Outcome.FULL)
            _, evicted = self._waiting.popitem(last=False)
        self._waiting[call.ticket_id] = call
        return PushResult(Outcome.QUEUED, evicted)

    def _drop_stale(self) -> list[Call]:
        stale = [c for c in self._waiting.values() if self.is_stale(c)]
        for c in stale:
            del self._waiting[c.ticket_id]
        self.counts["stale_at_turn"] += len(stale)
        return stale

    def pop(self) -> tuple[Call | None, list[Call]]:
        """The next call to speak (or None), and the stale calls dropped on the way."""
        dropped: list[Call] = []
        while self._waiting:
            _, call = self._waiting.popitem(last=False)
            if self.is_stale(call):
                dropped.append(call)
                self.counts["stale_at_turn"] += 1
                continue
            return call, dropped
        return None, dropped
