"""The citizens' queue pages at the province: every hall's tickets, from the bridged topics only.

At the province there is no dispatcher database: the token in a QR code
must be found without it. Each hall's dispatcher publishes, retained and
bridged up, every ticket of the day under its *tracking key* (a hash of the
token, ``track/{key}``) and each area's waiting queue by tracking key
(``area/{code}/queue``). This service logs in to the province's broker with
a role that reads only those, the halls' configuration and area summaries;
a page for ``/ve/{token}`` hashes the token and looks the key up. A guessed
token hashes to a key no hall published: the same 404 as any other.

What a page shows is computed by the hall's own code
(:func:`web.hallview.citizen_state`, :func:`web.hallview.aheads`) over a
:class:`HallView` per hall fed from the same messages the hall's view gets,
so the page reads the same at the hall and at the province.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timezone

from pydantic import ValidationError

from motcua.client import HallClient
from motcua.protocol import ROOT, AreaQueue, TicketTrack, tracking_key

from .hallview import HallView, TrackedTicket, as_json, citizen_state
from .history import Waiting
from .live import Hub
from .settings import WebSettings

log = logging.getLogger("web.province")

SUBSCRIPTIONS = ("hall/config", "area/+/summary", "area/+/queue", "track/+")
"""Exactly what the province's web role may read (``render_province_web_acl``), for every hall."""

MAX_HALLS = 1000


class ProvinceLive:
    """Same page-facing methods as :class:`web.live.Live` (peek, track, untrack, citizen_json, hub, client)."""

    def __init__(self, settings: WebSettings):
        self.settings = settings
        self.hub = Hub(settings.max_clients)
        self.lock = threading.Lock()
        self.halls: dict[str, HallView] = {}
        self.tickets: dict[str, tuple[str, TrackedTicket]] = {}  # tracking key -> (site, ticket)
        self._watchers: dict[str, int] = {}
        self._last_sent: dict[str, str] = {}
        self.rejected = 0
        self.client = HallClient(settings.site, mqtt=settings.mqtt, device_id=settings.device_id, announce=False,
                                 timeout=5.0)
        for sub in SUBSCRIPTIONS:
            self.client.runtime.on_raw(f"{ROOT}/+/{sub}", self._on_message)

    def start(self) -> None:
        self.client.start(wait=None)

    def stop(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ paho's thread

    def _on_message(self, msg) -> None:
        parts = msg.topic.split("/")
        if len(parts) < 4 or "/".join(parts[:2]) != ROOT:
            return
        site, levels = parts[2], parts[3:]
        with self.lock:
            items = self._apply(site, levels, msg.payload)
        self.hub.post(items)

    def _view(self, site: str) -> HallView | None:
        view = self.halls.get(site)
        if view is None and len(self.halls) < MAX_HALLS:
            view = self.halls[site] = HallView(self.settings.shared_login_flaps)
        return view

    def _apply(self, site: str, levels: list[str], payload: bytes) -> list[tuple[str, str, str]]:
        """Under the lock: fold one message in; the updates for the pages open on what it changed."""
        view = self._view(site)
        if view is None:
            return []
        if levels[0] == "track" and len(levels) == 2:
            return self._track(site, levels[1], payload)
        if levels[:1] == ["area"] and levels[2:] == ["queue"]:
            try:
                queue = AreaQueue.model_validate_json(payload)
            except (ValidationError, ValueError):
                self.rejected += 1
                return []
            view.set_queue(queue.area, [Waiting(p.key, "", p.priority, p.target_counter, i, queue.updated_at)
                                        for i, p in enumerate(queue.waiting)])
            return self._updates(site, queue.area)
        day_before = view.day
        ch = view.apply(levels, payload, datetime.now(timezone.utc))
        if levels == ["hall", "config"] and view.day != day_before and view.day is not None:
            self._forget_before(site, view.day)
        return self._updates(site, *ch.summaries) if ch.summaries else []

    def _track(self, site: str, key: str, payload: bytes) -> list[tuple[str, str, str]]:
        if not payload:  # the retained state cleared
            self.tickets.pop(key, None)
            return []
        try:
            track = TicketTrack.model_validate_json(payload)
        except (ValidationError, ValueError):
            self.rejected += 1
            return []
        known = self.tickets.get(key)
        if known is not None and known[0] != site:
            # two halls under one key: only a hall that read another's token could do it; keep the first
            log.warning("tracking key %s… published by %s, already known from %s: ignored", key[:8], site, known[0])
            return []
        self.tickets[key] = (site, TrackedTicket(
            key, track.number, track.area, track.day.isoformat(), track.priority, track.status, track.target_counter,
            track.counter, track.issued_at, track.call_count, track.transferred))
        return self._updates(site, None, key=key)

    def _forget_before(self, site: str, day: str) -> None:
        """A new service day at a hall: its earlier tickets are gone (their retained states expire)."""
        stale = [k for k, (s, t) in self.tickets.items() if s == site and t.day < day and k not in self._watchers]
        for k in stale:
            del self.tickets[k]

    def _updates(self, site: str, *areas: str | None, key: str | None = None) -> list[tuple[str, str, str]]:
        """The new state of every open page of ``site`` whose ticket is ``key`` or waits in ``areas``."""
        items = []
        for k in list(self._watchers):
            found = self.tickets.get(k)
            if found is None or found[0] != site or (k != key and found[1].area not in areas):
                continue
            state = self._state_json(k)
            if state is not None and self._last_sent.get(k) != state:
                self._last_sent[k] = state
                items.append((f"ticket:{k}", "state", state))
        return items

    def _state(self, key: str) -> dict | None:
        found = self.tickets.get(key)
        if found is None:
            return None
        site, t = found
        return citizen_state(self.halls[site], t, self.settings.default_service_min)

    def _state_json(self, key: str) -> str | None:
        state = self._state(key)
        return None if state is None else as_json(state)

    # ------------------------------------------------------------------ pages (any thread)

    def peek(self, token: str) -> dict | None:
        """What the page for this token shows now; None for a token no hall published."""
        with self.lock:
            return self._state(tracking_key(token))

    def track(self, token: str) -> TrackedTicket | None:
        key = tracking_key(token)
        with self.lock:
            found = self.tickets.get(key)
            if found is None:
                return None
            self._watchers[key] = self._watchers.get(key, 0) + 1
            return found[1]

    def untrack(self, key: str) -> None:
        with self.lock:
            n = self._watchers.get(key, 0) - 1
            if n > 0:
                self._watchers[key] = n
                return
            self._watchers.pop(key, None)
            self._last_sent.pop(key, None)

    def citizen_json(self, key: str) -> str | None:
        with self.lock:
            state = self._state_json(key)
            if state is not None:
                self._last_sent[key] = state
            return state
