"""From MQTT to every open page: the service's subscriptions, the view, and the fan-out.

paho's network thread folds each message into the :class:`HallView` (under
one lock), reads what the retained topics do not say from the dispatcher's
database, renders what changed once (the bytes of each Server-Sent Event are made once
and shared by every page that shows them), and hands it to the event loop in
one call per message; the loop puts it in the mailbox of every page that
shows it. A mailbox keeps only the newest of each thing, so a slow page costs
no memory and misses nothing it still needs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timezone

from motcua.client import HallClient

from .hallview import HallView, TrackedTicket, as_json, citizen_state
from .history import History, TicketRow
from .settings import WebSettings

log = logging.getLogger("web.live")

SUBSCRIPTIONS = ("hall/#", "counter/+/state", "area/+/summary", "device/+/availability", "device/+/health",
                 "event/call", "event/ticket")
"""Exactly what the ``web`` broker role may read."""

KEEPALIVE = b": keepalive\n\n"


def sse(event: str, data: str) -> bytes:
    """One Server-Sent Event as it goes on the wire (``data`` is one line: JSON)."""
    return f"event: {event}\ndata: {data}\n\n".encode()


class Subscriber:
    """One open page's mailbox: the latest bytes of each thing it shows, until its stream takes them.

    Only the newest matters on a page (a phone shows one state, a console one version of each section), so
    a newer one replaces an older one not yet sent: a slow phone gets the latest state when it catches up
    and holds at most one state meanwhile, and a page is never dropped for being slow. Used on the event
    loop only.
    """

    __slots__ = ("_pending", "_waiter", "closed")

    def __init__(self) -> None:
        self._pending: dict[str, bytes] = {}
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False

    def put(self, key: str, data: bytes) -> None:
        if self.closed:
            return
        self._pending[key] = data
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def close(self, last: bytes = b"") -> None:
        """Ends the stream once what is pending (and ``last``) is sent."""
        if last:
            self.put("\x00last", last)
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next(self) -> bytes | None:
        """What to send now, every pending item in one write; None once closed and sent."""
        while not self._pending:
            if self.closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = b"".join(self._pending.values())
        self._pending.clear()
        return data


class Hub:
    """Channels ('console:viewer', 'console:supervisor', 'ticket:{id}') → the open pages that show them."""

    def __init__(self, max_clients: int):
        self.max_clients = max_clients
        self.loop: asyncio.AbstractEventLoop | None = None
        self._subs: dict[str, set[Subscriber]] = {}
        self.clients = 0

    def subscribe(self, channel: str) -> Subscriber | None:
        if self.clients >= self.max_clients:
            return None
        sub = Subscriber()
        self._subs.setdefault(channel, set()).add(sub)
        self.clients += 1
        return sub

    def unsubscribe(self, channel: str, sub: Subscriber) -> bool:
        """Returns True when the channel has no page left."""
        subs = self._subs.get(channel)
        if subs is not None and sub in subs:
            subs.discard(sub)
            self.clients -= 1
            if not subs:
                del self._subs[channel]
                return True
        return False

    def watched(self, channel: str) -> bool:
        return channel in self._subs

    def post(self, items: list[tuple[str, str, bytes]]) -> None:
        """From any thread: (channel, what it replaces, the event's bytes) to deliver; one hand-off for all."""
        if items and self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._deliver, items)

    def _deliver(self, items: list[tuple[str, str, bytes]]) -> None:
        for channel, key, data in items:
            for sub in self._subs.get(channel, ()):
                sub.put(key, data)

    async def keep_alive(self, every_s: float) -> None:
        """A comment on every stream now and then, so proxies and phones keep an idle stream open."""
        while True:
            await asyncio.sleep(every_s)
            for subs in self._subs.values():
                for sub in subs:
                    sub.put(":", KEEPALIVE)

    def close_all(self) -> None:
        """The service is stopping: every page is told so ('end') and its stream ends."""
        for subs in self._subs.values():
            for sub in subs:
                sub.close(sse("end", ""))


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
            moved = self._refresh(ch.areas, ch.served) | ch.summaries
            items = []
            for role in ("viewer", "supervisor"):
                channel = f"console:{role}"
                if self.hub.watched(channel):
                    items += [(channel, f"section:{section}", self._section_event(section, role))
                              for section in sorted(ch.sections)]
            items += self._citizen_updates(moved, ch.tickets)
            self.changed.notify_all()
        self.hub.post(items)

    def _refresh(self, areas: set[str], served: bool) -> set[str]:
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
        if served:
            self.view.served = self.history.served_per_counter(day)
        return moved

    def _section_event(self, section: str, role: str) -> bytes:
        return sse("section", json.dumps({"s": section, "html": self.render(section, self.view, role)},
                                         ensure_ascii=False))

    def _citizen_updates(self, areas: set[str], tickets: set[str]) -> list[tuple[str, str, bytes]]:
        items = []
        for tid, t in self.view.tracked.items():
            if tid in tickets or t.area in areas:
                state = as_json(citizen_state(self.view, t, self.settings.default_service_min))
                if self._last_sent.get(tid) != state:
                    self._last_sent[tid] = state
                    items.append((f"ticket:{tid}", "state", sse("state", state)))
        return items

    # ------------------------------------------------------------------ pages (any thread)

    def peek(self, token: str) -> dict | None:
        """What the page for this token shows now, without following it; None for an unknown token."""
        with self.lock:
            t = self._ticket(token, follow=False)
            return None if t is None else citizen_state(self.view, t, self.settings.default_service_min)

    def track(self, token: str) -> TrackedTicket | None:
        """The ticket behind a QR token, now followed live; None if no ticket has that token."""
        with self.lock:
            return self._ticket(token, follow=True)

    def _ticket(self, token: str, follow: bool) -> TrackedTicket | None:
        """The ticket behind a token with its queue loaded; from now on followed live if ``follow``.

        Under the lock that folds messages in: every message folded so far is in the database already (the
        dispatcher commits, then publishes), and every later one is folded into the ticket tracked here. Read
        outside it, a call could land between the read and the tracking and be lost: the phone would say
        "waiting" while its number was being called."""
        row = self.history.by_token(token) if len(token) <= 64 else None
        if row is None:
            return None
        t = self.view.tracked.get(row.ticket_id)
        if t is None or (follow and t.status != row.status):
            t = TrackedTicket.from_row(row)
            if follow:
                self.view.tracked[row.ticket_id] = t
        self._load_queue(row)
        if follow:
            self._watchers[row.ticket_id] = self._watchers.get(row.ticket_id, 0) + 1
        return t

    def _load_queue(self, row: TicketRow) -> None:
        """The ticket's queue, read if not known yet or if it disagrees with the ticket. Under the lock."""
        if row.day != self.view.day:
            return
        listed = row.ticket_id in self.view.aheads.get(row.area, {})
        if row.area not in self.view.queues or listed != (row.status == "waiting"):
            self.view.set_queue(row.area, self.history.waiting(row.day, row.area))

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
