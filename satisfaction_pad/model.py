"""What the pad shows and what a tap means: a pure state machine.

No pygame, no MQTT, no threads: it takes the counter's retained state, taps
(named targets such as ``level:satisfied``) and the time, and decides the
screen. A finished rating is written to the outbox before the thank-you
screen appears, so a rating the citizen saw thanked for is never lost.

Screens: ``idle`` → ``rating`` (three levels) → [``reasons`` when not
satisfied] → [``indicators`` when the nine-indicator form is on] →
``thanks`` → ``idle``; "back" on the reasons returns to the three faces.
``mode:large`` (on every screen that asks something) switches large text and
high contrast on or off for this citizen; the pad returns to the usual
screen when it goes idle.

The citizen is never cut off: the clock restarts at every touch; when it
runs out on the reasons or the indicators, what was chosen is recorded and
thanked for. An untouched rating screen times out to the idle screen, but a
face tapped within ``late_tap_s`` after that still rates the same ticket;
only then is the ticket recorded as ``not_rated`` (kept, not counted).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Literal

from motcua.protocol import CounterState, Rating, RatingWindow, new_id
from motcua.protocol.messages import RatingLevel

from .config import PadSettings
from .outbox import Outbox

ScreenName = Literal["idle", "rating", "reasons", "indicators", "thanks"]
LEVELS: tuple[RatingLevel, ...] = ("very_satisfied", "satisfied", "unsatisfied")


@dataclass(frozen=True)
class View:
    """Everything the screen needs to draw itself; equal views draw the same frame."""

    screen: ScreenName
    counter: int
    counter_name: str
    officer_name: str | None = None
    ticket_number: str | None = None
    level: str | None = None
    reasons: frozenset[str] = frozenset()
    scores: tuple[tuple[str, int], ...] = ()
    connected: bool = True
    large: bool = False  # large text and high contrast, switched on by this citizen


@dataclass
class _Session:
    """The rating being taken: for a ticket, or a general one (window None)."""

    window: RatingWindow | None
    touched: float  # the last touch (or the start): the clock runs from here
    level: RatingLevel | None = None
    reasons: set[str] = field(default_factory=set)
    scores: dict[str, int] = field(default_factory=dict)
    reasons_done: bool = False


class PadModel:
    def __init__(self, settings: PadSettings, outbox: Outbox,
                 wall_clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 on_recorded: Callable[[Rating], None] = lambda r: None):
        self.s = settings
        self.outbox = outbox
        self.wall_clock = wall_clock
        self.on_recorded = on_recorded
        self.view = View(screen="idle", counter=settings.counter, counter_name=f"Quầy {settings.counter}")
        self._session: _Session | None = None
        self._expired: tuple[_Session, float] | None = None  # timed out untouched; a late tap still counts until then
        self._thanks_until: float | None = None
        self._last_tap = float("-inf")
        self._large = False

    # ------------------------------------------------------------------ inputs

    def counter_state(self, state: CounterState, now: float) -> bool:
        """The counter's retained state changed. Returns whether the view changed."""
        if state.counter != self.s.counter:
            return False  # never another counter's business
        before = self.view
        self.view = replace(self.view, counter_name=state.name, officer_name=state.officer_name or state.officer)
        w = state.rating_window
        if w is not None and not self.outbox.decided(w.ticket_id):
            current = self._session.window.ticket_id if self._session and self._session.window else None
            expired = self._expired[0].window.ticket_id if self._expired and self._expired[0].window else None
            if w.ticket_id not in (current, expired):
                self._close_expired()
                if self._session is not None:  # the next citizen is already here: close the old one
                    self._record_unfinished()
                self._session = _Session(window=w, touched=now)
                self._thanks_until = None
                self._large = False  # a new citizen: the usual screen
        self._refresh()
        return self.view != before

    def tap(self, target: str, now: float) -> bool:
        """A citizen touched ``target``. Returns whether the view changed."""
        if (now - self._last_tap) * 1000 < self.s.debounce_ms:
            return False  # a bounce or an impatient double tap: one press
        self._last_tap = now
        before = self.view
        screen = self.view.screen
        if screen == "idle" and self._expired and now < self._expired[1] and target.startswith("level:"):
            self._session, self._expired = self._expired[0], None  # a late tap on a face: the same ticket
            self._session.touched = now
            screen = "rating"
        session = self._session
        if session is not None:
            session.touched = now  # every touch restarts the clock
        if target == "mode:large" and screen in ("rating", "reasons", "indicators"):
            self._large = not self._large
        elif screen == "idle" and target == "general" and self.s.allow_general:
            self._close_expired()
            self._session = _Session(window=None, touched=now)
        elif screen == "rating" and session and target.startswith("level:"):
            level = next((lv for lv in LEVELS if lv == target.split(":", 1)[1]), None)
            if level is not None:
                session.level = level
                if level != "unsatisfied" and not self.s.indicators_enabled:
                    self._finish(now)
        elif screen == "reasons" and session and target.startswith("reason:"):
            code = target.split(":", 1)[1]
            if code in {r.code for r in self.s.reasons}:
                session.reasons ^= {code}
        elif screen == "reasons" and session and target == "back":
            session.level = None  # back to the three faces
            session.reasons.clear()
        elif screen == "reasons" and session and target == "send":
            session.reasons_done = True
            if not self.s.indicators_enabled:
                self._finish(now)
        elif screen == "indicators" and session and target.startswith("score:"):
            _, code, value = (target.split(":") + ["", ""])[:3]
            if code in {i.code for i in self.s.indicators} and value in ("0", "1", "2"):
                session.scores[code] = int(value)
        elif screen == "indicators" and session and target == "back":
            # one indicator a page: back undoes the last answer given (the page shows it again)
            answered = [i.code for i in self.s.indicators if i.code in session.scores]
            if answered:
                del session.scores[answered[-1]]
        elif screen == "indicators" and session and target == "send" and self._indicators_complete():
            self._finish(now)
        self._refresh()
        return self.view != before

    def tick(self, now: float) -> bool:
        """Time passes: rating screens time out, the thank-you screen ends."""
        before = self.view
        if self._thanks_until is not None and now >= self._thanks_until:
            self._thanks_until = None
        if self._expired is not None and now >= self._expired[1]:
            self._close_expired()
        s = self._session
        if s is not None and now - s.touched >= self.s.rating_timeout_s:
            if s.level is None and s.window is not None and self.s.late_tap_s > 0:
                self._session, self._expired = None, (s, now + self.s.late_tap_s)
            elif s.level is not None:  # the citizen chose something: it is sent, and thanked for
                self._finish(now)
            else:
                self._record_unfinished()
        self._refresh()
        return self.view != before

    def set_connected(self, connected: bool) -> bool:
        before = self.view
        self.view = replace(self.view, connected=connected)
        return self.view != before

    def next_deadline(self) -> float | None:
        """When tick() next has something to do (for a loop that sleeps until then)."""
        times = [t for t in (self._thanks_until,
                             self._session.touched + self.s.rating_timeout_s if self._session else None,
                             self._expired[1] if self._expired else None)
                 if t is not None]
        return min(times) if times else None

    # ------------------------------------------------------------------ recording

    def _finish(self, now: float) -> None:
        s = self._session
        assert s is not None and s.level is not None
        self._record(s, s.level)
        self._thanks_until = now + self.s.thanks_s

    def _close_expired(self) -> None:
        """The late-tap grace is over (or another rating begins): the untouched ticket is 'not rated'."""
        if self._expired is not None:
            expired, self._expired = self._expired[0], None
            self._record(expired, "not_rated")

    def _record_unfinished(self) -> None:
        """Timed out or interrupted: what the citizen chose counts; nothing chosen is 'not rated'."""
        s = self._session
        if s is None:
            return
        if s.window is None and s.level is None:
            self._session = None  # a general rating nobody gave: nothing to record
            return
        self._record(s, s.level or "not_rated")

    def _record(self, s: _Session, level: RatingLevel) -> None:
        w = s.window
        complete = self._indicators_complete()
        rating = Rating(
            rating_id=new_id(), counter=self.s.counter,
            ticket_id=w.ticket_id if w else None, officer=w.officer if w else None, area=w.area if w else None,
            dossier_code=w.dossier_code if w else None, level=level,
            reasons=sorted(s.reasons) if level == "unsatisfied" else [],
            indicators=dict(s.scores) if self.s.indicators_enabled and complete and level != "not_rated" else None,
            rated_at=self.wall_clock(),
        )
        self.outbox.add(rating)  # on disk before anyone is thanked
        self._session = None
        self.on_recorded(rating)

    def _indicators_complete(self) -> bool:
        s = self._session
        return s is not None and all(i.code in s.scores for i in self.s.indicators)

    # ------------------------------------------------------------------ view

    def _refresh(self) -> None:
        s = self._session
        if s is None:
            screen: ScreenName = "thanks" if self._thanks_until is not None else "idle"
            if screen == "idle":
                self._large = False  # the next citizen finds the usual screen
            self.view = replace(self.view, screen=screen, ticket_number=None, level=None, reasons=frozenset(),
                                scores=(), large=self._large)
            return
        if s.level is None:
            screen = "rating"
        elif s.level == "unsatisfied" and not s.reasons_done:
            screen = "reasons"
        else:
            screen = "indicators"
        self.view = replace(self.view, screen=screen, ticket_number=s.window.number if s.window else None,
                            level=s.level, reasons=frozenset(s.reasons),
                            scores=tuple(sorted(s.scores.items())), large=self._large)
