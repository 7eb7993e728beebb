"""The hall as the console and the citizens' pages show it, folded from MQTT messages.

Pure: no threads, no sockets, no database. :class:`HallView` takes each
message the service receives (topic levels below the site root, payload) and
says what changed; :func:`ahead_of` and :func:`citizen_state` turn a queue
and a ticket into what a citizen's phone shows, in Vietnamese, with nothing
personal in it (no officer, no dossier code, no other citizen's ticket).
"""

from __future__ import annotations

import json
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pydantic import ValidationError

from motcua.protocol import AreaSummary, CallEvent, CounterState, HallConfig, HallFigures, HallNotice, Health, TicketEvent

from .history import TicketRow, Waiting

RECENT_CALLS = 8
FLAP_WINDOW_S = 60.0


def _now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class DeviceView:
    device_id: str
    availability: str | None = None
    health: Health | None = None
    last_seen: datetime | None = None
    changes: deque = field(default_factory=lambda: deque(maxlen=64))  # when availability flipped
    instances: deque = field(default_factory=lambda: deque(maxlen=8))  # (when, instance id) of its health reports

    def shared_login(self, now: datetime, flaps: int) -> bool:
        """Two boxes with one login knock each other off: the broker's takeover makes the
        device flip online/offline many times a minute. Its own health may say so too."""
        recent = sum(1 for t in self.changes if (now - t).total_seconds() <= FLAP_WINDOW_S)
        h = self.health
        said = h is not None and (any("taken over" in (v or "") for v in [h.last_error, *h.checks.values()])
                                  or getattr(h, "takeovers", 0) > 0)
        # one login, two live runs: their health reports alternate between two instance ids
        runs = [i for t, i in self.instances if i and (now - t).total_seconds() <= FLAP_WINDOW_S]
        alternating = any(a != b for a, b in zip(runs, runs[1:])) and len(set(runs)) > 1 and len(runs) > 2 \
            and runs[0] == runs[-1]
        return recent >= flaps or said or alternating

    def reason(self) -> str:
        """Why the device is not 'ok', from its own health report."""
        h = self.health
        if h is None:
            return ""
        bad = [f"{k}: {v}" for k, v in h.checks.items() if not v.startswith("ok")]
        if h.last_error:
            bad.append(h.last_error)
        return "; ".join(bad)


@dataclass
class TrackedTicket:
    """A ticket someone follows on their phone; updated by ticket and call events."""

    ticket_id: str
    number: str
    area: str
    day: str
    priority: bool
    status: str
    target_counter: int | None
    counter: int | None
    issued_at: datetime
    call_count: int = 0
    transferred: bool = False

    @classmethod
    def from_row(cls, row: TicketRow) -> TrackedTicket:
        return cls(row.ticket_id, row.number, row.area, row.day, row.priority is not None, row.status,
                   row.target_counter, row.counter, row.issued_at, row.call_count)


@dataclass
class Changes:
    sections: set[str] = field(default_factory=set)  # console parts to redraw
    areas: set[str] = field(default_factory=set)  # queues that may have moved
    tickets: set[str] = field(default_factory=set)  # tracked tickets whose own state changed
    summaries: set[str] = field(default_factory=set)  # areas whose summary (and so the estimate) changed
    served: bool = False  # today's counts per counter may have changed (a ticket finished, a new day)
    called: CallEvent | None = None

    def __bool__(self) -> bool:
        return bool(self.sections or self.areas or self.tickets)


def _model(model, payload: bytes):
    try:
        return model.model_validate_json(payload)
    except (ValidationError, ValueError):
        return None


class HallView:
    def __init__(self, flaps: int = 4):
        self.flaps = flaps
        self.config: HallConfig | None = None
        self.counters: dict[int, CounterState] = {}
        self.areas: dict[str, AreaSummary] = {}
        self.figures: HallFigures | None = None
        self.notice: HallNotice | None = None
        self.devices: dict[str, DeviceView] = {}
        self.calls: deque[CallEvent] = deque(maxlen=RECENT_CALLS)
        self.served: dict[int, int] = {}  # today's finished tickets per counter (database, or counted live)
        self.queues: dict[str, list[Waiting]] = {}  # the waiting tickets of each area (database)
        self.aheads: dict[str, dict[str, int]] = {}  # per area: ticket id -> how many before it
        self.tracked: dict[str, TrackedTicket] = {}
        self.rejected = 0  # messages that did not validate

    # ------------------------------------------------------------------ folding messages

    def apply(self, levels: list[str], payload: bytes, now: datetime | None = None) -> Changes:
        now = now or _now()
        ch = Changes()
        head = levels[0] if levels else ""
        if head == "device" and len(levels) == 3:
            self._device(levels[1], levels[2], payload, now, ch)
        elif levels == ["hall", "config"]:
            if (cfg := self._valid(HallConfig, payload)) is not None:
                self.config = cfg
                ch.sections |= {"counters", "areas", "header"}
                ch.served = True
        elif levels == ["hall", "notice"]:
            self.notice = self._valid(HallNotice, payload) if payload else None
            ch.sections.add("notice")
        elif levels == ["hall", "figures"]:
            if (fig := self._valid(HallFigures, payload)) is not None:
                self.figures = fig
                ch.sections.add("header")
        elif head == "counter" and len(levels) == 3 and levels[2] == "state" and levels[1].isdigit():
            if (state := self._valid(CounterState, payload)) is not None:
                self.counters[state.counter] = state
                ch.sections.add("counters")
                # The counter's new state comes before the area's summary and the call event: the phone of
                # the number it now calls hears first, not after every other phone's new place in the queue.
                now_called = state.current if state.current and state.current.status == "called" else None
                t = self.tracked.get(now_called.ticket_id) if now_called else None
                if t is not None and t.status != "called":
                    t.status, t.counter, t.call_count = "called", state.counter, max(t.call_count, 1)
                    ch.tickets.add(t.ticket_id)
        elif head == "area" and len(levels) == 3 and levels[2] == "summary":
            if (summary := self._valid(AreaSummary, payload)) is not None:
                self.areas[summary.area] = summary
                ch.sections.add("areas")
                ch.areas.add(summary.area)
                ch.summaries.add(summary.area)
        elif levels == ["event", "call"]:
            if (call := self._valid(CallEvent, payload)) is not None:
                self.calls.appendleft(call)
                ch.sections.add("calls")
                ch.called = call
                t = self.tracked.get(call.ticket_id)
                if t is not None:
                    t.status, t.counter, t.call_count = "called", call.counter, call.call_count
                    ch.tickets.add(t.ticket_id)
        elif levels == ["event", "ticket"]:
            if (ev := self._valid(TicketEvent, payload)) is not None:
                self._ticket_event(ev, ch)
        return ch

    def _valid(self, model, payload: bytes):
        value = _model(model, payload)
        if value is None:
            self.rejected += 1
        return value

    def _device(self, device_id: str, what: str, payload: bytes, now: datetime, ch: Changes) -> None:
        dev = self.devices.get(device_id)
        if dev is None:
            if len(self.devices) >= 2000:  # bounded: a hall has tens of boxes
                return
            dev = self.devices[device_id] = DeviceView(device_id)
        if what == "availability":
            text = payload.decode(errors="replace")[:16]
            if dev.availability is not None and text != dev.availability:
                dev.changes.append(now)
            dev.availability = text
            dev.last_seen = now if text == "online" else dev.last_seen
        elif what == "health":
            if (h := self._valid(Health, payload)) is None:
                return
            dev.health = h
            dev.last_seen = max(filter(None, [dev.last_seen, h.at]))
            dev.instances.append((now, getattr(h, "instance", None)))
        else:
            return
        ch.sections.add("devices")

    def _ticket_event(self, ev: TicketEvent, ch: Changes) -> None:
        t = self.tracked.get(ev.ticket.ticket_id)
        if ev.kind == "finished" and ev.counter is not None:
            self.served[ev.counter] = self.served.get(ev.counter, 0) + 1
            ch.sections.add("counters")
            ch.served = True
        if t is None:
            return
        new = ev.ticket
        old_area = t.area
        if new.area != t.area:
            t.transferred = True
        t.status, t.area, t.counter, t.target_counter = new.status, new.area, new.counter, new.target_counter
        ch.tickets.add(t.ticket_id)
        # The dispatcher publishes an area's summary (and the service reads its queue again) before the
        # events of the same change; read a queue again here only when it disagrees with this ticket.
        for area in {old_area, t.area}:
            if (t.ticket_id in self.aheads.get(area, {})) != (t.status == "waiting" and area == t.area):
                ch.areas.add(area)

    # ------------------------------------------------------------------ names

    def set_queue(self, area: str, queue: list[Waiting]) -> None:
        self.queues[area] = queue
        self.aheads[area] = aheads(queue)

    def area_name(self, code: str) -> str:
        if self.config:
            for a in self.config.areas:
                if a.code == code:
                    return a.name
        summary = self.areas.get(code)
        return summary.name if summary else code

    @property
    def day(self) -> str | None:
        return self.config.day.isoformat() if self.config else None


# --------------------------------------------------------------------------- the citizen's page


def aheads(queue: list[Waiting]) -> dict[str, int]:
    """How many will be called before each waiting ticket, by the dispatcher's rules as far as they are known
    now: a ticket sent to one counter waits behind that counter's earlier ones; a priority ticket behind
    earlier priority tickets; an ordinary one behind every earlier ticket and every waiting priority ticket.
    One pass over the queue (in queue order), so 300 phones cost 300 steps, not 300²."""
    out: dict[str, int] = {}
    directed: dict[int, int] = {}
    before = prio_before = 0
    prio_total = sum(1 for w in queue if w.priority and w.target_counter is None)
    for w in queue:
        if w.target_counter is not None:
            out[w.ticket_id] = directed.get(w.target_counter, 0)
            directed[w.target_counter] = out[w.ticket_id] + 1
        elif w.priority:
            out[w.ticket_id] = prio_before
            prio_before += 1
            before += 1
        else:
            out[w.ticket_id] = before + (prio_total - prio_before)
            before += 1
    return out


def ahead_of(t: TrackedTicket, queue: list[Waiting]) -> int:
    return aheads(queue).get(t.ticket_id, 0)


def estimated_wait_min(ahead: int, summary: AreaSummary | None, default_service_min: float) -> int:
    """The dispatcher's own estimate: minutes per citizen lately, shared among the open counters."""
    per = (summary.average_service_min if summary and summary.average_service_min else None) or default_service_min
    return math.ceil(ahead * per / max(1, summary.open_counters if summary else 1))


def citizen_state(view: HallView, t: TrackedTicket, default_service_min: float) -> dict:
    """What the phone shows: JSON-ready, in Vietnamese, with no personal data."""
    area_name = view.area_name(t.area)
    state: dict = {"number": t.number, "area": area_name, "status": t.status}
    if t.status == "waiting":
        ahead = view.aheads.get(t.area, {}).get(t.ticket_id, 0)
        summary = view.areas.get(t.area)
        wait = estimated_wait_min(ahead, summary, default_service_min)
        state |= {"ahead": ahead, "wait_min": wait,
                  "title": "Đang chờ",
                  "line": "Sắp đến lượt Ông/Bà" if ahead == 0 else f"Còn {ahead} người trước Ông/Bà",
                  "detail": f"Thời gian chờ dự kiến: khoảng {wait} phút" if ahead else "Xin Ông/Bà chú ý màn hình và loa"}
        notes = []
        if t.transferred:
            notes.append(f"Ông/Bà đã được chuyển sang: {area_name}")
        if summary and summary.open_counters == 0:
            notes.append("Hiện chưa có quầy nào mở cho lĩnh vực này")
        if notes:
            state["note"] = ". ".join(notes)
    elif t.status == "called":
        state |= {"counter": t.counter, "call_count": t.call_count, "title": "Đến lượt Ông/Bà",
                  "line": f"Mời Ông/Bà đến quầy số {t.counter}",
                  "detail": "Xin mang theo phiếu và giấy tờ"}
    elif t.status == "skipped":
        state |= {"counter": t.counter, "title": "Số đã bị bỏ qua",
                  "line": "Ông/Bà không có mặt khi được mời",
                  "detail": f"Xin đến quầy số {t.counter} và đưa phiếu cho cán bộ để được gọi lại"
                            if t.counter else "Xin đưa phiếu cho cán bộ tại quầy để được gọi lại"}
    elif t.status == "done":
        state |= {"title": "Đã phục vụ xong", "line": "Cảm ơn Ông/Bà", "detail": "Xin đánh giá mức độ hài lòng tại quầy"}
    elif t.status == "cancelled":
        state |= {"title": "Phiếu đã huỷ", "line": "Phiếu này không còn hiệu lực",
                  "detail": "Xin lấy số mới tại máy lấy số"}
    else:  # expired
        state |= {"title": "Phiếu đã hết hạn", "line": "Phiếu của ngày làm việc trước",
                  "detail": "Xin lấy số mới tại máy lấy số"}
    return state


def as_json(state: dict) -> str:
    return json.dumps(state, ensure_ascii=False, separators=(",", ":"))
