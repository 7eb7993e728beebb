"""The hall's queue rules as pure functions: no SQL, no clock, no threads.

The store finds the candidates, these functions decide: which service day a
moment belongs to, whether the hall issues numbers now, which waiting ticket a
counter calls next, where a transferred ticket goes in the queue, and whether a
counter's state allows a command. :mod:`dispatcher.hall` applies the decisions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta, tzinfo
from datetime import time as dtime
from typing import Any, Protocol, TypeVar

from motcua.protocol.messages import ErrorCode

from .config import OpeningPeriod


class Refusal(Exception):
    """A command the rules refuse; becomes ``ok: false`` with this code and message."""

    def __init__(self, code: ErrorCode, message: str):
        super().__init__(message)
        self.code = code


class EmptyQueue(Refusal):
    """``next`` with nobody waiting: refused, but what happened before it in the command stands."""

    def __init__(self, message: str):
        super().__init__("empty", message)


class QueuedTicket(Protocol):
    """What the rules read of a waiting ticket (a store row satisfies it)."""

    def __getitem__(self, key: str, /) -> Any: ...


T = TypeVar("T", bound=QueuedTicket)


def service_day(now: datetime, tz: tzinfo, reset_time: dtime) -> date:
    """The day numbers belong to: the local date, shifted back before the reset time."""
    local = now.astimezone(tz)
    day = local.date()
    if local.time() < reset_time:
        day -= timedelta(days=1)
    return day


def is_open(now: datetime, tz: tzinfo, opening_hours: Sequence[OpeningPeriod]) -> bool:
    """Whether numbers are issued at ``now``; no opening hours configured means always."""
    if not opening_hours:
        return True
    local = now.astimezone(tz)
    return any(local.isoweekday() in p.days and p.open <= local.time() < p.close for p in opening_hours)


def choose_in_area(normal: T | None, priority: T | None, *, rule: str, normal_since_priority: int | None,
                   priority_every: int) -> T | None:
    """Between the oldest normal and the oldest priority ticket of one area's queue.

    ``strict``: priority first, always. ``interleave``: a priority ticket after every
    ``priority_every`` normal ones; before the first priority call of the day
    (``normal_since_priority`` is None) a priority ticket waits for nobody.
    """
    if priority is None or normal is None:
        return priority or normal
    if rule == "strict":
        return priority
    since = normal_since_priority
    return priority if since is None or since >= priority_every else normal


def choose_across_areas(choices: Iterable[T | None], *, area_order: str) -> T | None:
    """Between the candidates of a counter's areas, in the order the counter lists them:
    ``oldest_first`` takes the one queued earliest, otherwise the first area with someone waiting."""
    found = [c for c in choices if c is not None]
    if not found:
        return None
    if area_order == "oldest_first":
        return min(found, key=lambda r: r["queue_pos"])
    return found[0]


def require_status(status: str, *allowed: str) -> None:
    """Refuse a counter command the counter's state does not allow, saying what to do instead."""
    if status not in allowed:
        hint = {"closed": "the counter is closed: open it first", "paused": "the counter is paused: resume first",
                "open": "the counter is open"}[status]
        raise Refusal("bad_state", hint)


def front_position(lowest_waiting: int | None, next_position: Callable[[], int]) -> int:
    """A queue position ahead of everyone waiting; a fresh one (``next_position()``) when nobody waits."""
    return (lowest_waiting if lowest_waiting is not None else next_position()) - 1


def ticket_id(day: date | str, area: str, number: int) -> str:
    return f"{str(day).replace('-', '')}-{area}-{number}"


def cancellable(status: str) -> bool:
    return status in ("waiting", "cancelled")


