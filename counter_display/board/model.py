"""What the hall board shows, as pure logic: messages in, a :class:`BoardView` out.

No threads, no sockets, no clock of its own: callers pass ``now`` (monotonic
seconds, for flashing and page turns) and ``wall`` (an aware datetime, for the
clock and notice expiry). Equal views need no redraw; :meth:`BoardModel.next_deadline`
says when the view will change by itself (flash, page turn, the next minute),
so the screen loop sleeps until then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from motcua.protocol import (
    AreaSummary, CallEvent, CounterState, DossierStatusUpdate, HallConfig, HallFigures, HallNotice, TicketEvent,
)

from .config import BoardSettings


@dataclass(frozen=True)
class CallRow:
    ticket_id: str
    number: str
    counter: int
    counter_name: str
    recall: bool


@dataclass(frozen=True)
class AreaRow:
    code: str
    name: str
    waiting: int
    last_called: str | None
    prefix: str = ""  # the letter printed on the area's tickets


@dataclass(frozen=True)
class ReadyRow:
    code: str
    procedure: str


@dataclass(frozen=True)
class BoardView:
    page: str  # calls | ready | figures
    hall_name: str
    calls: tuple[CallRow, ...]
    flash: bool | None  # None: the newest call is not flashing; else whether it is lit right now
    areas: tuple[AreaRow, ...]
    clock: str
    date: str
    notice: str
    ready: tuple[ReadyRow, ...]
    figures: HallFigures | None
    online: bool


class BoardModel:
    def __init__(self, settings: BoardSettings):
        self.s = settings
        self.zone = ZoneInfo(settings.timezone)
        self.hall: HallConfig | None = None
        self.calls: list[CallRow] = []
        self._serving: dict[int, str | None] = {}  # counter -> the ticket its last state showed being served
        self._seen_events: list[str] = []
        self.flash_from: float | None = None
        self.areas: dict[str, AreaSummary] = {}
        self.ready: dict[str, tuple[datetime, ReadyRow]] = {}
        self.figures: HallFigures | None = None
        self.notice: HallNotice | None = None
        self.online = False
        self.page = "calls"
        self.page_from = 0.0

    # ------------------------------------------------------------------ inputs

    def hall_config(self, config: HallConfig) -> None:
        self.hall = config
        known = {a.code for a in config.areas}
        self.areas = {k: v for k, v in self.areas.items() if k in known}

    def call(self, event: CallEvent, now: float) -> bool:
        """A call (or recall): to the top of the list, flashing, and the calls page comes back."""
        if event.event_id in self._seen_events:  # delivered at least once: the same event may come twice
            return False
        self._seen_events = (self._seen_events + [event.event_id])[-200:]
        row = CallRow(event.ticket_id, event.number, event.counter, event.counter_name, event.recall)
        self.calls = [row] + [c for c in self.calls if c.ticket_id != event.ticket_id]
        del self.calls[self.s.recent_calls:]
        self.flash_from = now if self.s.flash_s > 0 else None
        self.page, self.page_from = "calls", now
        return True

    def ticket_event(self, event: TicketEvent) -> bool:
        """A called number that did not come (skipped), or was withdrawn, leaves the list: the board must not
        go on presenting it as the newest call. Called again later, it comes back as a new call."""
        if event.kind not in ("skipped", "cancelled", "expired"):
            return False
        return self._drop(event.ticket.ticket_id)

    def _drop(self, ticket_id: str) -> bool:
        gone = [c for c in self.calls if c.ticket_id == ticket_id]
        if not gone:
            return False
        if self.calls[0] in gone:
            self.flash_from = None
        self.calls = [c for c in self.calls if c.ticket_id != ticket_id]
        return True

    def counter_state(self, state: CounterState) -> bool:
        """Retained states seed the list after a restart: who is being served now (no flash). A number that
        leaves its counter without being finished there (no rating window for it: skipped as a no-show, or
        sent to another counter) leaves the list too: the board reads no ticket events, only counter states."""
        before = self._serving.get(state.counter)
        self._serving[state.counter] = state.current.ticket_id if state.current else None
        window = state.rating_window
        if before and state.current is None and (window is None or window.ticket_id != before):
            return self._drop(before)
        t = state.current
        if t is None or any(c.ticket_id == t.ticket_id for c in self.calls):
            return False
        if len(self.calls) >= self.s.recent_calls:
            return False
        self.calls.append(CallRow(t.ticket_id, t.number, state.counter, state.name, False))
        return True

    def area_summary(self, summary: AreaSummary) -> bool:
        if self.hall is not None and summary.area not in {a.code for a in self.hall.areas}:
            return False
        changed = self.areas.get(summary.area) != summary
        self.areas[summary.area] = summary
        return changed

    def dossiers(self, update: DossierStatusUpdate) -> bool:
        changed = False
        for rec in update.records:
            old = self.ready.get(rec.code)
            if old is not None and old[0] > rec.updated_at:
                continue  # the newest record wins
            if rec.ready_for_pickup and rec.status == "ready":
                self.ready[rec.code] = (rec.updated_at, ReadyRow(rec.code, rec.procedure))
                changed = True
            elif old is not None:
                del self.ready[rec.code]
                changed = True
        if len(self.ready) > 500:  # bounded: the oldest fall off
            for code in sorted(self.ready, key=lambda c: self.ready[c][0])[:len(self.ready) - 500]:
                del self.ready[code]
        return changed

    def hall_figures(self, figures: HallFigures) -> bool:
        changed = self.figures != figures
        self.figures = figures
        return changed

    def hall_notice(self, notice: HallNotice | None) -> bool:
        changed = self.notice != notice
        self.notice = notice
        return changed

    def link(self, online: bool) -> bool:
        changed = online != self.online
        self.online = online
        return changed

    # ------------------------------------------------------------------ time

    def pages(self) -> list[str]:
        pages = ["calls"]
        if self.ready:
            pages.append("ready")
        if self.figures is not None and self.figures.issued_today:
            pages.append("figures")
        return pages

    def tick(self, now: float) -> None:
        """Turn the page when its time is up (or when its data went away)."""
        pages = self.pages()
        if self.page not in pages:
            self.page, self.page_from = "calls", now
            return
        if len(pages) == 1 or now < self.page_from + self._page_length():
            return
        self.page = pages[(pages.index(self.page) + 1) % len(pages)]
        self.page_from = now

    def _page_length(self) -> float:
        return self.s.calls_page_s if self.page == "calls" else self.s.page_s

    def next_deadline(self, now: float, wall: datetime) -> float:
        """When the view changes by itself: the flash's next edge, the page turn, or the next minute."""
        deadlines = [now + 60 - wall.second - wall.microsecond / 1e6]
        if self.flash_from is not None and now < self.flash_from + self.s.flash_s:
            half = self.s.flash_period_ms / 1000
            edge = self.flash_from + ((now - self.flash_from) // half + 1) * half
            deadlines.append(min(edge, self.flash_from + self.s.flash_s))
        if len(self.pages()) > 1:
            deadlines.append(self.page_from + self._page_length())
        return min(deadlines)

    # ------------------------------------------------------------------ output

    def view(self, now: float, wall: datetime) -> BoardView:
        self.tick(now)
        local = wall.astimezone(self.zone)
        flash = None
        if self.flash_from is not None and now < self.flash_from + self.s.flash_s:
            flash = int((now - self.flash_from) * 1000 // self.s.flash_period_ms) % 2 == 0
        notice = self.s.notice
        if self.notice is not None and (self.notice.expires_at is None or wall < self.notice.expires_at):
            notice = self.notice.text
        hall = self.hall
        names = {a.code: a.name for a in hall.areas} if hall else {}
        order = [a.code for a in hall.areas] if hall else sorted(self.areas)
        prefixes = {a.code: a.prefix for a in hall.areas} if hall else {}
        areas = tuple(AreaRow(code, names.get(code, self.areas[code].name), self.areas[code].waiting,
                              self.areas[code].last_called, prefixes.get(code, ""))
                      for code in order if code in self.areas)
        ready = tuple(row for _, row in sorted(self.ready.values(), key=lambda v: v[0], reverse=True)[:self.s.ready_max])
        return BoardView(
            page=self.page, hall_name=hall.hall_name if hall else "", calls=tuple(self.calls), flash=flash,
            areas=areas, clock=local.strftime("%H:%M"),
            date=f"{self.s.texts.weekdays[local.weekday()]}, {local:%d/%m/%Y}", notice=notice, ready=ready,
            figures=self.figures if "figures" in self.pages() else None, online=self.online,
        )
