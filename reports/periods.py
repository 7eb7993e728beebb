"""Reporting periods, defined in the hall's time zone and stored as UTC instants.

A period is ``[start, end)``. Calendar kinds (day, week Monday–Sunday, month,
quarter, half, year) start at local midnight. The *reporting week* is the one
the province's decision asks for: the seven days that end at the weekly cut-off
(by default Thursday 14:00, an hour before the 15:00 deadline, so the report is
written and forwarded in time). ``custom`` runs from one local date to another,
both included.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

KINDS = ("day", "week", "reporting-week", "month", "quarter", "half", "year")

WEEKDAYS_VI = ["thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy", "Chủ nhật"]
ROMAN = ["I", "II", "III", "IV"]


@dataclass(frozen=True)
class WeeklyCutoff:
    """When the reporting week ends, local time: ISO weekday (1 = Monday) and time of day."""

    weekday: int = 4
    at: time = time(14, 0)


@dataclass(frozen=True)
class Period:
    kind: str
    start: datetime  # UTC, included
    end: datetime  # UTC, excluded
    timezone: str
    full_end: datetime | None = None  # when cut short "to date": where the whole period would end

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def to_date(self) -> bool:
        """True when the period is cut at the moment the report was made (the period is not over)."""
        return self.full_end is not None and self.full_end > self.end

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(self.tz)

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(self.tz)

    def days(self) -> list[date]:
        """Every local date the period touches."""
        first = self.local_start.date()
        last = (self.local_end - timedelta(microseconds=1)).date() if self.end > self.start else first
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    @property
    def ident(self) -> str:
        """A file-name-safe id: 2026-12-01, 2026-W48, 2026-W48-bc, 2026-11, 2026-Q4, 2026-H2, 2026."""
        s = self.local_start
        if self.kind == "day":
            return s.date().isoformat()
        if self.kind == "week":
            y, w, _ = s.isocalendar()
            return f"{y}-W{w:02d}"
        if self.kind == "reporting-week":
            y, w, _ = (self.local_end - timedelta(microseconds=1)).isocalendar()
            return f"{y}-W{w:02d}-bc"
        if self.kind == "month":
            return f"{s.year}-{s.month:02d}"
        if self.kind == "quarter":
            return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
        if self.kind == "half":
            return f"{s.year}-H{1 if s.month <= 6 else 2}"
        if self.kind == "year":
            return str(s.year)
        days = self.days()
        return f"{days[0].isoformat()}_{days[-1].isoformat()}"

    @property
    def label(self) -> str:
        """The period as a Vietnamese heading says it."""
        s, days = self.local_start, self.days()
        span = f"từ {_d(days[0])} đến {_d(days[-1])}"
        if self.kind == "day":
            text = f"Ngày {_d(s.date())}"
        elif self.kind == "week":
            text = f"Tuần {s.isocalendar()[1]}/{s.isocalendar()[0]} ({span})"
        elif self.kind == "reporting-week":
            e = self.full_end.astimezone(self.tz) if self.full_end is not None and self.to_date else self.local_end
            text = (f"Kỳ báo cáo tuần: từ {s:%H:%M} {WEEKDAYS_VI[s.weekday()]} {_d(s.date())} "
                    f"đến {e:%H:%M} {WEEKDAYS_VI[e.weekday()]} {_d(e.date())}")
        elif self.kind == "month":
            text = f"Tháng {s.month:02d}/{s.year}"
        elif self.kind == "quarter":
            text = f"Quý {ROMAN[(s.month - 1) // 3]}/{s.year}"
        elif self.kind == "half":
            text = f"6 tháng {'đầu' if s.month <= 6 else 'cuối'} năm {s.year}"
        elif self.kind == "year":
            text = f"Năm {s.year}"
        else:
            text = f"Từ ngày {_d(days[0])} đến ngày {_d(days[-1])}"
        if self.to_date:
            text += f" — số liệu đến {self.local_end:%H:%M} ngày {_d(self.local_end.date())}"
        return text

    def until(self, now: datetime) -> Period:
        """This period cut at ``now`` if it is not over yet."""
        if now >= self.end:
            return self
        return replace(self, end=max(self.start, now.astimezone(timezone.utc)), full_end=self.full_end or self.end)

    def previous(self) -> Period:
        """The period of the same kind just before; as long as this one if this one is cut short."""
        length = self.end - self.start
        if self.kind == "custom":
            return Period("custom", self.start - length, self.start, self.timezone)
        if self.kind == "reporting-week":
            prev = Period(self.kind, self.start - timedelta(days=7), self.start, self.timezone)
        else:
            before = (self.local_start - timedelta(days=1)).date()
            prev = period_of(self.kind, before, self.timezone)
        if self.to_date:
            # the same stretch of the previous period: Monday to Wednesday against Monday to Wednesday
            prev = prev.until(prev.start + length)
        return prev


def _d(day: date) -> str:
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


def period_of(kind: str, day: date, tz: str, cutoff: WeeklyCutoff = WeeklyCutoff()) -> Period:
    """The period of ``kind`` that contains the local date ``day`` (for the reporting week: its start of day)."""
    zone = ZoneInfo(tz)
    if kind == "day":
        first, last = day, day
    elif kind == "week":
        first = day - timedelta(days=day.weekday())
        last = first + timedelta(days=6)
    elif kind == "reporting-week":
        return reporting_week_at(_midnight(day, zone), tz, cutoff)
    elif kind == "month":
        first = day.replace(day=1)
        last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    elif kind == "quarter":
        first = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        last = (first + timedelta(days=93)).replace(day=1) - timedelta(days=1)
    elif kind == "half":
        first = date(day.year, 1 if day.month <= 6 else 7, 1)
        last = date(day.year, 6, 30) if day.month <= 6 else date(day.year, 12, 31)
    elif kind == "year":
        first, last = date(day.year, 1, 1), date(day.year, 12, 31)
    else:
        raise ValueError(f"unknown period kind {kind!r}; kinds: {', '.join(KINDS)}")
    return Period(kind, _midnight(first, zone), _midnight(last + timedelta(days=1), zone), tz)


def reporting_week_at(instant: datetime, tz: str, cutoff: WeeklyCutoff = WeeklyCutoff()) -> Period:
    """The reporting week that contains ``instant``: it ends at the first cut-off after it."""
    zone = ZoneInfo(tz)
    local = instant.astimezone(zone)
    ahead = (cutoff.weekday - local.isoweekday()) % 7
    end = datetime.combine(local.date() + timedelta(days=ahead), cutoff.at, tzinfo=zone)
    if end <= local:
        end += timedelta(days=7)
    start = end - timedelta(days=7)
    return Period("reporting-week", start.astimezone(timezone.utc), end.astimezone(timezone.utc), tz)


def custom(first: date, last: date, tz: str) -> Period:
    """From local date ``first`` to ``last``, both included."""
    if last < first:
        raise ValueError(f"the period ends ({last}) before it starts ({first})")
    zone = ZoneInfo(tz)
    return Period("custom", _midnight(first, zone), _midnight(last + timedelta(days=1), zone), tz)


def current(kind: str, now: datetime, tz: str, cutoff: WeeklyCutoff = WeeklyCutoff()) -> Period:
    """The period of ``kind`` that is running at ``now``, cut at ``now``."""
    if kind == "reporting-week":
        return reporting_week_at(now, tz, cutoff).until(now)
    return period_of(kind, now.astimezone(ZoneInfo(tz)).date(), tz, cutoff).until(now)


def last_complete(kind: str, now: datetime, tz: str, cutoff: WeeklyCutoff = WeeklyCutoff()) -> Period:
    """The latest period of ``kind`` that has ended by ``now``."""
    running = reporting_week_at(now, tz, cutoff) if kind == "reporting-week" else \
        period_of(kind, now.astimezone(ZoneInfo(tz)).date(), tz, cutoff)
    return running.previous()
