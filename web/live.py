"""From MQTT to every open page: the service's subscriptions, the view, and the fan-out.

paho's network thread folds each message into the :class:`HallView` (under
one lock), reads what the retained topics do not say from the dispatcher's
database, renders what changed once, and hands it to the event loop; the
loop puts it in the queue of every page that shows it (Server-Sent Events).
A page too slow to keep up is dropped rather than buffered without end.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from motcua.client import HallClient

from .hallview import HallView, TrackedTicket, as_json, citizen_state
from .history import History
from .settings import WebSettings

log = logging.getLogger("web.live")

QUEUE_LIMIT = 64
SUBSCRIPTIONS = ("hall/#", "counter/+/state", "area/+/summary", "device/+/availability", "device/+/health",
                 "event/call", "event/ticket")
"""Exactly what the ``web`` broker role may read."""


class Hub:
    """Channels ('console:viewer', 'console:supervisor', 'ticket:{id}') → the queues of open pages."""

    def __init__(self, max_clients: int):
        self.max_clients = max_clients
        self.loop: asyncio.AbstractEventLoop | None = None
        self._subs: dict[str, set[asyncio.Queue]] = {}
        self.clients = 0
        self.dropped = 0

    def subscribe(self, channel: str) -> asyncio.Queue | None:
        if self.clients >= self.max_clients:
            return None
        q: asyncio.Queue = asyncio.Queue(QUEUE_LIMIT)
        self._subs.setdefault(channel, set()).add(q)
        self.clients += 1
        return q

    def unsubscribe(self, channel: str, q: asyncio.Queue) -> bool:
        """Returns True when the channel has no page left."""
        subs = self._subs.get(channel)
        if subs is not None and q in subs:
            subs.discard(q)
            self.clients -= 1
            if not subs:
                del self._subs[channel]
                return True
        return False

    def watched(self, channel: str) -> bool:
        return channel in self._subs

    def post(self, items: list[tuple[str, str, str]]) -> None:
        """From any thread: (channel, event name, data) to deliver."""
        if items and self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._deliver, items)

    def _deliver(self, items: list[tuple[str, str, str]]) -> None:
        for channel, event, data in items:
            for q in list(self._subs.get(channel, ())):
                try:
                    q.put_nowait((event, data))
                except asyncio.QueueFull:  # a stalled page: end its stream, it reconnects and starts afresh
                    self.dropped += 1
                    self._subs[channel].discard(q)
                    self.clients -= 1
                    while not q.empty():
                        q.get_nowait()
                    q.put_nowait(None)
            if channel in self._subs and not self._subs[channel]:
                del self._subs[channel]


class Live:
    def __init__(self, settings: WebSettings, history: History,
                 render: Callable[..., str]):
        """``render(section, view, role, csrf=None)`` is the console's HTML for one section."""
        self.settings = settings
        self.history = history
        self.render = render
        self.view = HallView(settings.shared_login_flaps)
        self.hub = Hub(settings.max_clients)
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.client = HallClient(settings.site, mqtt=settings.mqtt, device_id=settings.device_id, announce=True,
                                 timeout=5.0)
        self.topics = self.client.topics
        self._last_sent: dict[str, str] = {}  # ticket id -> the state its pages have
        self._watchers: dict[str, int] = {}  # ticket id -> open pages
        for sub in SUBSCRIPTIONS:
            self.client.runtime.on_raw(f"{self.topics.root}/{sub}", self._on_message)

    def start(self) -> None:
        self.client.start(wait=None)  # a missing broker never blocks the pages: they show what is known

    def stop(self) -> None:
        self.client.close()
        self.history.close()

    # ------------------------------------------------------------------ paho's thread

    def _on_message(self, msg) -> None:
        levels = self.topics.split(msg.topic)
        with self.lock:
            ch = self.view.apply(levels, msg.payload, datetime.now(timezone.utc))
            if not ch:
                return
            moved = self._refresh(ch.areas, "counters" in ch.sections) | ch.summaries
            items = []
            for section in sorted(ch.sections):
                for role in ("viewer", "supervisor"):
                    if self.hub.watched(f"console:{role}"):
                        items.append((f"console:{role}", "section", self._section_json(section, role)))
            items += self._citizen_updates(moved, ch.tickets)
            self.changed.notify_all()
        self.hub.post(items)

    def _refresh(self, areas: set[str], counters: bool) -> set[str]:
        """What only the database knows, for what just changed; returns the areas whose queue moved.
        Under the lock."""
        day = self.view.day
        if not self.history.available or day is None:
            return set()
        moved = set()
        for area in areas:
            before = self.view.aheads.get(area)
            self.view.set_queue(area, self.history.waiting(day, area))
            if self.view.aheads[area] != before:
                moved.add(area)
        if counters:
            self.view.served = self.history.served_per_counter(day)
        return moved

    def _section_json(self, section: str, role: str) -> str:
        import json

        return json.dumps({"s": section, "html": self.render(section, self.view, role)}, ensure_ascii=False)

    def _citizen_updates(self, areas: set[str], tickets: set[str]) -> list[tuple[str, str, str]]:
        items = []
        for tid, t in self.view.tracked.items():
            if tid in tickets or t.area in areas:
                state = as_json(citizen_state(self.view, t, self.settings.default_service_min))
                if self._last_sent.get(tid) != state:
                    self._last_sent[tid] = state
                    items.append((f"ticket:{tid}", "state", state))
        return items

    # ------------------------------------------------------------------ pages (any thread)

    def peek(self, token: str) -> dict | None:
        """What the page for this token shows now, without following it; None for an unknown token."""
        row = self.history.by_token(token) if len(token) <= 64 else None
        if row is None:
            return None
        with self.lock:
            t = self.view.tracked.get(row.ticket_id) or TrackedTicket.from_row(row)
            if row.area not in self.view.queues and row.day == self.view.day:
                self.view.set_queue(row.area, self.history.waiting(row.day, row.area))
            return citizen_state(self.view, t, self.settings.default_service_min)

    def track(self, token: str) -> TrackedTicket | None:
        """The ticket behind a QR token, now followed live; None if no ticket has that token."""
        row = self.history.by_token(token) if len(token) <= 64 else None
        if row is None:
            return None
        with self.lock:
            t = self.view.tracked.get(row.ticket_id)
            if t is None or t.status != row.status:
                t = self.view.tracked[row.ticket_id] = TrackedTicket.from_row(row)
            if row.area not in self.view.queues and row.day == self.view.day:
                self.view.set_queue(row.area, self.history.waiting(row.day, row.area))
            self._watchers[row.ticket_id] = self._watchers.get(row.ticket_id, 0) + 1
        return t

    def untrack(self, ticket_id: str) -> None:
        with self.lock:
            n = self._watchers.get(ticket_id, 0) - 1
            if n > 0:
                self._watchers[ticket_id] = n
                return
            self._watchers.pop(ticket_id, None)
            self.view.tracked.pop(ticket_id, None)
            self._last_sent.pop(ticket_id, None)

    def citizen_json(self, ticket_id: str) -> str | None:
        with self.lock:
            t = self.view.tracked.get(ticket_id)
            if t is None:
                return None
            state = as_json(citizen_state(self.view, t, self.settings.default_service_min))
            self._last_sent[ticket_id] = state
            return state

    def sections(self, role: str, names: list[str], csrf: str | None) -> dict[str, str]:
        with self.lock:
            if self.view.day and self.history.available and not self.view.served:
                self.view.served = self.history.served_per_counter(self.view.day)
            return {name: self.render(name, self.view, role, csrf) for name in names}

    def notice_seen(self, text: str | None, timeout: float) -> bool:
        def seen() -> bool:
            n = self.view.notice
            return (n is None) if text is None else (n is not None and n.text == text)

        with self.changed:
            return self.changed.wait_for(seen, timeout)
