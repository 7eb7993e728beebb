"""What the console's sections show, computed from the view: labels in Vietnamese, times in the hall's zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape

from .hallview import HallView

TEMPLATES = Path(__file__).with_name("templates")
SECTIONS = ["header", "notice", "counters", "areas", "calls", "devices"]

COUNTER_STATUS = {"open": "Đang mở", "paused": "Tạm nghỉ", "closed": "Đóng"}
AVAILABILITY = {"online": "Trực tuyến", "offline": "Mất kết nối"}
HEALTH = {"ok": "Tốt", "degraded": "Suy giảm", "fault": "Lỗi"}


@dataclass(frozen=True)
class CounterRow:
    number: int
    name: str
    status: str
    status_name: str
    officer: str | None
    serving: str | None
    since: datetime | None
    served: int


@dataclass(frozen=True)
class AreaRow:
    code: str
    name: str
    waiting: int
    waiting_priority: int
    oldest: datetime | None
    next: list[str]
    last_called: str | None
    open_counters: int
    average_wait_min: float | None


@dataclass(frozen=True)
class DeviceRow:
    id: str
    role: str
    availability: str
    availability_name: str
    health: str
    health_name: str
    reason: str
    last_seen: datetime | None
    shared: bool


def counter_rows(view: HallView) -> list[CounterRow]:
    configured = view.config.counters if view.config else []
    numbers = sorted(set(view.counters) | {c.number for c in configured})
    rows = []
    for n in numbers:
        s = view.counters.get(n)
        name = s.name if s else next((c.name for c in configured if c.number == n), f"Quầy {n}")
        status = s.status if s else "closed"
        rows.append(CounterRow(
            n, name, status, COUNTER_STATUS.get(status, status),
            (s.officer_name or s.officer) if s else None,
            s.current.number if s and s.current else None,
            (s.current.called_at if s and s.current else None), view.served.get(n, 0)))
    return rows


def area_rows(view: HallView) -> list[AreaRow]:
    codes = [a.code for a in view.config.areas] if view.config else sorted(view.areas)
    rows = []
    for code in codes:
        s = view.areas.get(code)
        queue = view.queues.get(code, [])
        rows.append(AreaRow(
            code, view.area_name(code), s.waiting if s else len(queue), s.waiting_priority if s else 0,
            min((w.issued_at for w in queue), default=None), [w.number for w in queue[:3]],
            s.last_called if s else None, s.open_counters if s else 0, s.average_wait_min if s else None))
    return rows


def device_rows(view: HallView, now: datetime) -> list[DeviceRow]:
    rows = []
    for dev_id in sorted(view.devices):
        d = view.devices[dev_id]
        h = d.health
        availability = d.availability or "?"
        health = h.status if h else "?"
        rows.append(DeviceRow(dev_id, h.role if h else "", availability, AVAILABILITY.get(availability, availability),
                              health, HEALTH.get(health, "Chưa rõ"), d.reason(), d.last_seen,
                              d.shared_login(now, view.flaps)))
    return rows


class Renderer:
    def __init__(self, tz: str, static_url):
        self.zone = ZoneInfo(tz)
        self.env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]),
                               trim_blocks=True, lstrip_blocks=True)
        self.env.filters["hhmm"] = self.hhmm
        self.env.filters["ago"] = self.ago
        self.env.globals["vnum"] = vnum
        self.env.globals["static"] = static_url

    def hhmm(self, value) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.astimezone(self.zone).strftime("%H:%M:%S")

    @staticmethod
    def ago(value: datetime | None) -> str:
        if value is None:
            return ""
        s = max(0, int((datetime.now(timezone.utc) - value).total_seconds()))
        h, m = divmod(s // 60, 60)
        return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"

    def page(self, name: str, **ctx) -> str:
        return self.env.get_template(name).render(**ctx)

    def section(self, name: str, view: HallView, role: str, csrf: str | None = None) -> str:
        """One part of the console, the same for every console of that role (the token is added per page)."""
        ctx = {"view": view, "role": role, "csrf": csrf}
        if name == "counters":
            ctx |= {"counters": counter_rows(view), "areas": area_rows(view)}
        elif name == "areas":
            ctx["areas"] = area_rows(view)
        elif name == "devices":
            ctx["devices"] = device_rows(view, datetime.now(timezone.utc))
        return self.env.get_template(f"_{name}.html").render(**ctx)


def vnum(value: float | None) -> str:
    """Vietnamese decimals: a comma, one digit."""
    return "—" if value is None else f"{value:.1f}".replace(".", ",")
