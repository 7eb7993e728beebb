"""What the kiosk shows and what a touch means: a pure state machine.

No pygame, no MQTT, no printer, no threads. It takes the dispatcher's
retained hall configuration and area summaries, touches (named targets such
as ``area:TP``), scanner readings, the outcomes of the work it asked for, and
the time; it decides the screen. Work that talks to the world (issue and
print a ticket, look up a dossier) is returned as an :class:`Effect` for the
service to carry out; the outcome comes back through :meth:`KioskModel.issued`,
:meth:`KioskModel.issue_failed`, :meth:`KioskModel.looked_up`...

While a ticket is being issued every touch is ignored: one confirming touch
is one request, never two numbers.

Screens::

    idle ─ home ─┬─ areas ─[confirm]─ issuing ─┬─ ticket        (2 touches: "take", the area)
                 │    └─ priority ─ areas          └─ error         (priority: 4 touches, chosen before the area)
                 ├─ (one area) issuing                              (1 touch; its priority button: 3)
                 ├─ dossier (keypad; or a scan from anywhere) ─ looking_up ─ dossier_result
                 └─ proc_areas ─ proc_list ─ proc_detail (scrollable)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from motcua.protocol import AreaSummary, DossierReply, HallConfig, ProcedureInfo, TicketReply

from .config import KioskSettings

ScreenName = Literal["idle", "home", "areas", "confirm", "priority", "issuing", "ticket", "error", "dossier",
                     "looking_up", "dossier_result", "proc_areas", "proc_list", "proc_detail", "proc_search"]
BUSY = ("issuing", "looking_up")
PARENT: dict[ScreenName, ScreenName] = {
    "areas": "home", "confirm": "areas", "priority": "areas", "ticket": "home", "error": "home",
    "dossier": "home", "dossier_result": "dossier", "proc_areas": "home", "proc_list": "proc_areas",
    "proc_detail": "proc_list", "home": "home", "idle": "idle", "proc_search": "proc_areas",
}
SEARCH_KEYS = ("QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM")  # diacritics not needed: the search ignores them
MAX_RESULTS = 4
# the dossier keypad's rows: the digits together, the letters as on a keyboard, then the separators
# dossier codes use (the contract's DossierCode: letters, digits, '.', '_', '/', '-')
KEYPAD_ROWS = ("1234567890", "QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM", "-./_")
KEYPAD = "".join(KEYPAD_ROWS)
MAX_TYPED = 40


@dataclass(frozen=True)
class AreaRow:
    code: str
    name: str
    waiting: int | None  # None until the dispatcher's summary arrived
    prefix: str = ""  # the ticket's letter
    open_counters: int | None = None  # None until the dispatcher's summary arrived

    @property
    def closed(self) -> bool:
        return self.open_counters == 0


@dataclass(frozen=True)
class IssuedTicket:
    number: str
    ticket_id: str
    area_name: str
    priority_name: str | None
    waiting_ahead: int | None
    estimated_wait_min: int | None
    area_closed: bool = False


@dataclass(frozen=True)
class DossierView:
    code: str
    procedure: str
    status: str
    appointment: str | None
    ready: bool
    freshness: str


@dataclass(frozen=True)
class View:
    """Everything the screen needs to draw itself; equal views draw the same frame."""

    screen: ScreenName
    hall_name: str = ""
    areas: tuple[AreaRow, ...] = ()
    categories: tuple[tuple[str, str], ...] = ()
    area: AreaRow | None = None
    priority: tuple[str, str] | None = None
    ticket: IssuedTicket | None = None
    message: str | None = None
    typed: str = ""
    dossier: DossierView | None = None
    proc_areas: tuple[tuple[str, str], ...] = ()
    procedures: tuple[ProcedureInfo, ...] = ()
    procedure: ProcedureInfo | None = None
    scroll: int = 0
    connected: bool = True
    single_area: bool = False  # the home screen's button prints at once
    large: bool = False  # large text and high contrast, switched on by the citizen; off for the next one
    tickets: bool = True  # False: a lookup kiosk without a printer
    query: str = ""  # typed in the procedures search


@dataclass(frozen=True)
class IssueTicket:
    area: str
    priority: str | None
    dossier_code: str | None = None  # the receipt this citizen scanned or typed during this visit


@dataclass(frozen=True)
class LookupDossier:
    code: str


Effect = IssueTicket | LookupDossier


@dataclass
class _State:
    screen: ScreenName = "idle"
    area: str | None = None
    priority: str | None = None
    ticket: IssuedTicket | None = None
    message: str | None = None
    typed: str = ""
    dossier: DossierView | None = None
    receipt: str | None = None  # a dossier code looked up in this visit: the ticket carries it
    proc_area: str | None = None
    procedure: str | None = None
    scroll: int = 0
    scroll_limit: int = 0
    large: bool = False
    query: str = ""
    from_search: bool = False
    last_touch: float = 0.0
    result_until: float | None = None
    summaries: dict[str, AreaSummary] = field(default_factory=dict)


class KioskModel:
    def __init__(self, settings: KioskSettings):
        self.s = settings
        self.t = settings.texts
        self.config: HallConfig | None = None
        self.connected = True
        self._st = _State()
        self._last_tap = float("-inf")
        self.view = self._render()

    # ------------------------------------------------------------------ inputs from the dispatcher

    def hall_config(self, config: HallConfig) -> bool:
        before = self.view
        self.config = config
        self.view = self._render()
        return self.view != before

    def area_summary(self, summary: AreaSummary) -> bool:
        before = self.view
        self._st.summaries[summary.area] = summary
        self.view = self._render()
        return self.view != before

    def set_connected(self, connected: bool) -> bool:
        before = self.view
        self.connected = connected
        self.view = self._render()
        return self.view != before

    # ------------------------------------------------------------------ touches

    def tap(self, target: str, now: float) -> tuple[bool, Effect | None]:
        """A citizen touched ``target``. Returns (view changed, work to do)."""
        st = self._st
        if st.screen in BUSY:
            return False, None  # one confirming touch is one request
        if (now - self._last_tap) * 1000 < self.s.timeouts.debounce_ms:
            return False, None  # a bounce or an impatient double tap: one press
        self._last_tap = now
        st.last_touch = now
        before = self.view
        effect = self._apply_tap(target, now)
        self.view = self._render()
        return self.view != before, effect

    def _apply_tap(self, target: str, now: float) -> Effect | None:
        st = self._st
        kind, _, arg = target.partition(":")
        if target == "mode:large" and st.screen == "home":
            st.large = not st.large
        elif target == "nav:home" or (st.screen == "idle"):
            self._go("home")
        elif target == "nav:back":
            self._go("proc_search" if st.screen == "proc_detail" and st.from_search else PARENT.get(st.screen, "home"))
        elif st.screen == "home" and arg in ("take", "priority") and not self.s.flow.issue_tickets:
            pass  # a lookup kiosk: no printer, no numbers
        elif st.screen == "home" and kind == "home":
            st.priority = None
            single = self._single_area()
            if arg == "take" and single:
                return self._take(single, now)
            going: dict[str, ScreenName] = {"take": "areas", "priority": "priority", "dossier": "dossier",
                                            "procedures": "proc_areas"}
            self._go(going.get(arg, "home"))
            st.typed = "" if arg == "dossier" else st.typed
        elif st.screen == "areas" and kind == "area" and arg in self._area_names():
            return self._take(arg, now)
        elif st.screen == "areas" and target == "priority":
            self._go("priority")
        elif st.screen == "confirm" and target == "confirm" and st.area:
            self._go("issuing")
            return IssueTicket(st.area, st.priority, st.receipt)
        elif st.screen == "priority" and kind == "cat" and arg in dict(self._categories()):
            st.priority = arg
            single = self._single_area()
            if single:
                return self._take(single, now)
            self._go("areas")
        elif st.screen == "priority" and target == "no_priority":
            st.priority = None
            self._go("home" if self._single_area() else "areas")
        elif st.screen == "dossier" and kind == "key":
            if arg == "del":
                st.typed = st.typed[:-1]
            elif arg in KEYPAD and len(arg) == 1 and len(st.typed) < MAX_TYPED:
                st.typed += arg
        elif st.screen == "dossier" and target == "lookup":
            return self._lookup(st.typed, now)
        elif st.screen == "proc_areas" and kind == "parea":
            st.proc_area = arg
            st.from_search = False
            self._go("proc_list")
        elif st.screen == "proc_areas" and target == "search":
            st.query = ""
            self._go("proc_search")
        elif st.screen == "proc_search" and kind == "skey":
            if arg == "del":
                st.query = st.query[:-1]
            elif arg == "space" and st.query and not st.query.endswith(" "):
                st.query += " "
            elif len(arg) == 1 and any(arg in row for row in SEARCH_KEYS) and len(st.query) < MAX_TYPED:
                st.query += arg
        elif st.screen == "proc_search" and kind == "proc":
            p = next((p for p in self._procedures() if p.code == arg), None)
            if p is not None:
                st.proc_area, st.procedure, st.from_search = p.area, p.code, True
                self._go("proc_detail")
        elif st.screen == "proc_list" and kind == "proc":
            st.procedure = arg
            self._go("proc_detail")
        elif kind == "scroll" and st.screen in ("proc_list", "proc_detail"):
            self.scroll(-400 if arg == "up" else 400, now)
        return None

    def _take(self, area: str, now: float) -> Effect | None:
        """The citizen chose ``area``: print at once, or confirm first (setting); an area with no open counter
        is refused or issued with a word, per setting."""
        st = self._st
        st.area = area
        summary = st.summaries.get(area)
        if summary is not None and summary.open_counters == 0 and self.s.flow.closed_area == "refuse":
            self._result("error", self.t.refused_area_closed, now)
            return None
        if self.s.flow.confirm_before_print:
            self._go("confirm")
            return None
        self._go("issuing")
        return IssueTicket(area, st.priority, st.receipt)

    def _single_area(self) -> str | None:
        """The one area of a one-area hall whose home button prints at once (setting), else None."""
        names = self._area_names()
        return next(iter(names)) if len(names) == 1 and self.s.flow.single_area_direct else None

    def scroll(self, dy: int, now: float) -> bool:
        """A finger dragged the list by ``dy`` pixels (positive: further down the content)."""
        before = self.view
        st = self._st
        st.last_touch = now
        st.scroll = max(0, min(st.scroll_limit, st.scroll + dy))
        self.view = self._render()
        return self.view != before

    def set_scroll_limit(self, limit: int) -> bool:
        """The painter measured how far the current content can scroll."""
        before = self.view
        self._st.scroll_limit = max(0, limit)
        self._st.scroll = min(self._st.scroll, self._st.scroll_limit)
        self.view = self._render()
        return self.view != before

    # ------------------------------------------------------------------ the scanner

    def scanned(self, code: str, now: float) -> tuple[bool, Effect | None]:
        """A dossier code from the scanner: looked up from whatever screen, unless the kiosk is busy."""
        st = self._st
        if st.screen in BUSY:
            return False, None
        before = self.view
        st.last_touch = now
        st.typed = code[:MAX_TYPED]
        effect = self._lookup(code, now)
        self.view = self._render()
        return self.view != before, effect

    def bad_scan(self, now: float) -> bool:
        st = self._st
        if st.screen in BUSY:
            return False
        before = self.view
        st.last_touch = now
        self._result("dossier_result", self.t.malformed_code, now)
        st.dossier = None
        self.view = self._render()
        return self.view != before

    def _lookup(self, code: str, now: float) -> Effect | None:
        from .scanner import DOSSIER_CODE

        if not DOSSIER_CODE.match(code):
            self._result("dossier_result", self.t.malformed_code, now)
            self._st.dossier = None
            return None
        self._go("looking_up")
        self._st.receipt = code
        return LookupDossier(code)

    # ------------------------------------------------------------------ outcomes of the work

    def issued(self, reply: TicketReply, now: float) -> bool:
        before = self.view
        st = self._st
        t = reply.ticket
        assert t is not None
        names = self._area_names()
        st.ticket = IssuedTicket(number=t.number, ticket_id=t.ticket_id, area_name=names.get(t.area, t.area),
                                 priority_name=dict(self._categories()).get(t.priority) if t.priority else None,
                                 waiting_ahead=reply.waiting_ahead, estimated_wait_min=reply.estimated_wait_min,
                                 area_closed=getattr(st.summaries.get(t.area), "open_counters", None) == 0)
        st.receipt = None  # one ticket per receipt
        self._result("ticket", None, now)
        self.view = self._render()
        return self.view != before

    def issue_failed(self, text_key: str, now: float) -> bool:
        """No ticket for this citizen; ``text_key`` names the Texts entry that says why."""
        before = self.view
        message = getattr(self.t, text_key)
        self._result("error", message, now)
        self.view = self._render()
        return self.view != before

    def looked_up(self, reply: DossierReply, code: str, now: float) -> bool:
        before = self.view
        st = self._st
        if not reply.ok or not reply.found or reply.record is None:
            message = self.t.lookup_failed if not reply.ok else self.t.unknown_dossier.format(code=code)
            st.dossier = None
            self._result("dossier_result", message, now)
        else:
            r = reply.record
            st.dossier = DossierView(
                code=r.code, procedure=r.procedure, status=getattr(self.t, f"status_{r.status}", r.status),
                appointment=_ddmmyyyy(r.appointment_date) if r.appointment_date else None,
                ready=r.ready_for_pickup, freshness=self.t.freshness.format(age=self._age(reply.age_s)))
            self._result("dossier_result", None, now)
        self.view = self._render()
        return self.view != before

    def lookup_failed(self, now: float) -> bool:
        before = self.view
        self._st.dossier = None
        self._result("dossier_result", self.t.lookup_failed, now)
        self.view = self._render()
        return self.view != before

    # ------------------------------------------------------------------ time

    def tick(self, now: float) -> bool:
        """Time passes: results go away, untouched screens return home, home goes idle."""
        st = self._st
        if st.screen in BUSY:
            return False
        before = self.view
        to = self.s.timeouts
        if st.result_until is not None and now >= st.result_until:
            self._go("home")
            st.last_touch = now
        elif st.screen not in ("idle", "home") and now - st.last_touch >= to.inactivity_s:
            self._go("home")
            st.last_touch = now
        elif st.screen == "home" and now - st.last_touch >= to.idle_after_s:
            self._go("idle")
        self.view = self._render()
        return self.view != before

    def next_deadline(self) -> float | None:
        st = self._st
        if st.screen in BUSY or st.screen == "idle":
            return None
        if st.result_until is not None:
            return st.result_until
        wait = self.s.timeouts.idle_after_s if st.screen == "home" else self.s.timeouts.inactivity_s
        return st.last_touch + wait

    @property
    def busy(self) -> bool:
        return self._st.screen in BUSY

    # ------------------------------------------------------------------ helpers

    def _go(self, screen: ScreenName) -> None:
        st = self._st
        st.screen = screen
        st.result_until = None
        st.scroll = 0
        st.scroll_limit = 0
        if screen == "idle":
            st.large = False  # the next citizen starts with the usual screen
            st.receipt = None  # the citizen has left
        if screen in ("home", "idle"):
            st.area = st.priority = None
            st.ticket = None
            st.message = None
            st.dossier = None
        if screen == "dossier":
            st.message = None

    def _result(self, screen: ScreenName, message: str | None, now: float) -> None:
        self._go(screen)
        self._st.message = message
        self._st.result_until = now + self.s.timeouts.result_s

    def _area_names(self) -> dict[str, str]:
        return {a.code: a.name for a in self.config.areas} if self.config else {}

    def _categories(self) -> tuple[tuple[str, str], ...]:
        return tuple((c.code, c.name) for c in self.config.priority_categories) if self.config else ()

    def _procedures(self) -> tuple[ProcedureInfo, ...]:
        if self.s.procedures:
            return tuple(self.s.procedures)
        return tuple(self.config.procedures) if self.config else ()

    def _age(self, age_s: float | None) -> str:
        if age_s is None or age_s < 60:
            return self.t.just_now
        if age_s < 3600:
            return self.t.minutes.format(n=int(age_s // 60))
        if age_s < 86400:
            return self.t.hours.format(n=int(age_s // 3600))
        return self.t.days.format(n=int(age_s // 86400))

    def _render(self) -> View:
        st = self._st
        names = self._area_names()
        prefixes = {a.code: a.prefix for a in self.config.areas} if self.config else {}
        areas = tuple(AreaRow(code, name, st.summaries[code].waiting if code in st.summaries else None,
                              prefixes.get(code, ""),
                              st.summaries[code].open_counters if code in st.summaries else None)
                      for code, name in names.items())
        procs = self._procedures()
        proc_area_codes = list(dict.fromkeys(p.area for p in procs))
        area = next((a for a in areas if a.code == st.area), None)
        cats = self._categories()
        priority = next((c for c in cats if c[0] == st.priority), None)
        in_area = tuple(p for p in procs if p.area == st.proc_area)
        if st.screen == "proc_search":
            from .catalogue import search

            in_area = tuple(search(procs, st.query, MAX_RESULTS))
        return View(
            screen=st.screen,
            hall_name=self.s.hall_name or (self.config.hall_name if self.config else ""),
            areas=areas, categories=cats, area=area, priority=priority, ticket=st.ticket, message=st.message,
            typed=st.typed, dossier=st.dossier,
            proc_areas=tuple((c, names.get(c, c)) for c in proc_area_codes),
            procedures=in_area if st.screen in ("proc_list", "proc_detail", "proc_search") else (),
            procedure=next((p for p in in_area if p.code == st.procedure), None) if st.screen == "proc_detail" else None,
            scroll=st.scroll, connected=self.connected, single_area=self._single_area() is not None,
            large=st.large, tickets=self.s.flow.issue_tickets, query=st.query,
        )


def _ddmmyyyy(d: date) -> str:
    return d.strftime("%d/%m/%Y")


__all__ = ["KioskModel", "View", "Effect", "IssueTicket", "LookupDossier", "AreaRow", "IssuedTicket", "DossierView"]
