"""The counter box's logic, pure: counter state, link state and key presses in; matrix content and
commands out. No threads, no sockets, no clock of its own (callers pass ``now``, monotonic seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from motcua.protocol import CounterState

from .config import DIGITS, CounterBoxSettings
from .matrix import Content


@dataclass(frozen=True)
class Command:
    """A counter command to send: the action (last topic level) and its fields."""

    action: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    """A press that sends nothing, and why (logged; the officer hears the long beep)."""

    reason: str


class CounterBoxModel:
    def __init__(self, settings: CounterBoxSettings):
        self.s = settings
        self.m = settings.matrix
        self.state: CounterState | None = None
        self.entry = ""  # digits typed (a counter number) or an area code chosen by an area key
        self.broker_up = False
        self.dispatcher_up = False
        self._down_since: float | None = 0.0  # unreachable from the start until proven otherwise
        self._call_key: tuple | None = None  # identifies the call on display: a new one blinks
        self._blink_from: float | None = None
        self.marker = False

    # ------------------------------------------------------------------ inputs

    def counter_state(self, state: CounterState, now: float) -> bool:
        """A counter state (retained message or a reply). Older than what we have: ignored. True if shown differently."""
        if state.counter != self.s.counter:
            return False
        if self.state is not None and state.updated_at < self.state.updated_at:
            return False
        before = self.content(now)
        self.state = state
        current = state.current if state.status == "open" else None
        key = (current.ticket_id, current.called_at) if current else None
        if key != self._call_key:
            self._call_key = key
            self._blink_from = now if key is not None and self.m.blink_count else None
        return self.content(now) != before

    def recalled(self, now: float) -> bool:
        """Our recall was accepted: the number blinks again."""
        if self._call_key is None or not self.m.blink_count:
            return False
        self._blink_from = now
        return True

    def link(self, broker_up: bool, dispatcher_up: bool, now: float) -> bool:
        """The broker connection and the dispatcher's availability; True when the marker changed."""
        self.broker_up, self.dispatcher_up = broker_up, dispatcher_up
        if broker_up and dispatcher_up:
            self._down_since = None
        elif self._down_since is None:
            self._down_since = now
        marker = self._down_since is not None and now - self._down_since >= self.s.offline_after_s
        changed, self.marker = marker != self.marker, marker
        return changed

    @property
    def reachable(self) -> bool:
        return self.broker_up and self.dispatcher_up

    def marker_due(self, now: float) -> float | None:
        """When the offline marker is due to appear, if the link is down and it is not up yet."""
        if self._down_since is None or self.marker:
            return None
        return self._down_since + self.s.offline_after_s

    # ------------------------------------------------------------------ output

    def content(self, now: float) -> Content:
        m, state = self.m, self.state
        blink = self._blink_from
        if self.entry:
            text, blink = m.entry_prefix + self.entry, None
        elif state is None:
            text, blink = m.waiting_text, None
        elif state.status == "closed":
            text, blink = m.shown_when_closed, None
        elif state.status == "paused":
            text, blink = m.shown_when_paused, None
        elif state.current is not None:
            text = state.current.number
        else:
            text, blink = m.idle_text, None
        return Content(text, blink, self.marker)

    # ------------------------------------------------------------------ presses

    def press(self, token: str) -> Command | Refusal | None:
        """What a key means now. None: handled locally (entry typing), nothing to send."""
        if token.startswith("dossier:"):  # scanned, not typed: what was typed stays
            return Command("attach_dossier", {"dossier_code": token.split(":", 1)[1]})
        if token in DIGITS:
            if self.entry and not self.entry.isdigit():
                self.entry = ""
            if len(self.entry) < 3:
                self.entry += token
            return None
        if token.startswith("area:"):
            self.entry = token.split(":", 1)[1]
            return None
        if token == "clear":
            self.entry = ""
            return None
        entry, self.entry = self.entry, ""  # any action consumes what was typed
        status = self.state.status if self.state else None
        if token == "open_close":
            token = "open" if status in (None, "closed") else "close"
        elif token == "pause_resume":
            token = "resume" if status == "paused" else "pause"
        if token == "open":
            if self.s.officer is None:
                return Refusal("no officer configured for this box")
            return Command("open", {"officer": self.s.officer})
        if token == "transfer":
            target = entry or self.s.transfer_default
            if not target:
                return Refusal("transfer: type a counter number or choose an area first")
            if target.isdigit():
                number = int(target)
                if not 1 <= number <= 999:
                    return Refusal(f"transfer: no counter {target}")
                return Command("transfer", {"to_counter": number})
            return Command("transfer", {"to_area": target})
        return Command(token)
