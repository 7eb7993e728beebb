"""What the signboard scrolls, and where the ribbon is at any moment: pure logic.

Messages in (calls, the central system's notice), a :class:`Frame` out for a
given monotonic time. A call interrupts the notice at once and scrolls across
``call_passes`` times; calls that come meanwhile wait their turn (bounded, a
repeated call of a ticket already waiting replaces it); when none is left the
notice loops. Each pass runs from a blank panel until the last letter has left
it and ``gap_px`` blank columns have gone by.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from motcua.protocol import CallEvent, HallNotice

from .config import SignboardSettings


@dataclass(frozen=True)
class Frame:
    """One distinct picture: the text on the ribbon and how far it has moved in. Equal frames need no redraw."""

    text: str
    offset: int


@dataclass
class _Ribbon:
    text: str
    started: float
    passes: int  # 0: loops until replaced (the notice)
    ticket_id: str | None = None


class SignModel:
    def __init__(self, settings: SignboardSettings, prepare: Callable[[str], str], measure: Callable[[str], int]):
        self.s = settings
        self.prepare, self.measure = prepare, measure
        self.width = settings.panel.width
        self.notice: HallNotice | None = None
        self.queue: deque[tuple[str, str]] = deque()  # (ticket id, text) of calls waiting their turn
        self._seen: deque[str] = deque(maxlen=200)
        self.current: _Ribbon | None = None
        self.shown_calls = 0

    # ------------------------------------------------------------------ inputs

    def call(self, event: CallEvent, now: float) -> bool:
        """A call or recall: scroll it now if the notice is up, else after the calls before it."""
        if event.event_id in self._seen:  # delivered at least once: the same event may come twice
            return False
        self._seen.append(event.event_id)
        template = self.s.texts.recall if event.recall else self.s.texts.call
        text = self.prepare(template.format(number=event.number, counter=event.counter))
        self.queue = deque(q for q in self.queue if q[0] != event.ticket_id)
        self.queue.append((event.ticket_id, text))
        while len(self.queue) > self.s.calls_queued:
            self.queue.popleft()
        if self.current is None or self.current.passes == 0:
            self._next(now)
        return True

    def hall_notice(self, notice: HallNotice | None, now: float) -> bool:
        changed = notice != self.notice
        self.notice = notice
        if changed and (self.current is None or self.current.passes == 0):
            self.current = None  # the new notice starts from the right edge
        return changed

    # ------------------------------------------------------------------ time

    def notice_text(self, wall: datetime) -> str:
        n = self.notice
        if n is not None and (n.expires_at is None or wall < n.expires_at):
            return self.prepare(n.text)
        return self.prepare(self.s.texts.notice)

    def _pass_s(self, text: str) -> float:
        return (self.width + self.measure(text) + self.s.gap_px) / self.s.speed_px_s

    def _next(self, now: float, wall: datetime | None = None) -> None:
        if self.queue:
            ticket_id, text = self.queue.popleft()
            self.current = _Ribbon(text, now, self.s.call_passes, ticket_id)
            self.shown_calls += 1
        elif wall is not None:
            self.current = _Ribbon(self.notice_text(wall), now, 0)
        else:
            self.current = None

    def frame(self, now: float, wall: datetime) -> Frame:
        """Where the ribbon is at ``now``; moves on to the next call or the notice when a ribbon is done."""
        for _ in range(self.s.calls_queued + 2):  # each turn ends one ribbon; bounded, never a busy loop
            r = self.current
            if r is None:
                self._next(now, wall)
                continue
            if r.passes == 0 and r.text != self.notice_text(wall):
                self.current = _Ribbon(self.notice_text(wall), now, 0)  # the notice expired or changed
                continue
            pass_s = self._pass_s(r.text)
            elapsed = now - r.started
            if r.passes and elapsed >= pass_s * r.passes:
                self._next(r.started + pass_s * r.passes, wall)  # seamless: the next starts where this ended
                continue
            offset = int((elapsed % pass_s) * self.s.speed_px_s + 1e-9)
            return Frame(r.text, offset)
        return Frame("", 0)

    def next_change(self, now: float) -> float:
        """When the ribbon moves by one more column."""
        r = self.current
        if r is None or not r.text:
            return now + 1.0
        speed = self.s.speed_px_s
        columns = int((now - r.started) * speed + 1e-9)  # as frame() counts them
        return r.started + (columns + 1) / speed
