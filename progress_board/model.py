"""What the dossier-progress screen shows, as pure logic: messages in, a :class:`ProgressView` out.

The central one-stop system's retained summary (``dossier/progress``) gives
the figures per area or agency, today and this month, as of its ``updated_at``.
The hall's own ``dossier/status`` stream keeps the flows current between two
summaries: a dossier received, or whose result became ready, after the
summary was computed is added to its group's today and month (on time when
the result came on or before its appointment date, late after). Stocks (in
progress, overdue) are left to the next summary: a record alone cannot say
what it was counted as before. A new summary drops the additions it covers.

No threads, no sockets, no clock of its own: callers pass ``now`` (monotonic,
for page turns) and ``wall`` (an aware datetime).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from motcua.protocol import DossierProgress, DossierRecord, DossierStatusUpdate, HallConfig, ProgressCounts

from .config import ProgressSettings

FIELDS = ("received", "in_progress", "done_on_time", "done_late", "overdue")
_DONE = ("ready", "returned")
_MAX_LIVE = 20_000  # dossier codes remembered between two summaries; the oldest fall off


@dataclass(frozen=True)
class Row:
    name: str
    counts: tuple[int, ...]  # one a field, in FIELDS order
    rate: float | None  # on-time share of the done, in percent; None when nothing was done

    def value(self, field: str) -> int:
        return self.counts[FIELDS.index(field)]


@dataclass(frozen=True)
class ProgressView:
    hall_name: str
    period: str | None  # today | month; None before any figures arrived
    period_title: str
    group_by: str
    rows: tuple[Row, ...]
    total: Row | None
    target_pct: float
    page: int
    pages: int
    clock: str
    date: str
    updated: str  # when the figures were computed, worded; "" before any
    stale: bool
    online: bool


@dataclass
class _Live:
    """What the dossier stream added for one dossier since the summary: when, and to which group."""

    code: str
    procedure: str
    group: str | None
    received_at: datetime | None = None
    done_at: datetime | None = None
    on_time: bool = True


def counts_of(c: ProgressCounts) -> list[int]:
    return [getattr(c, f) for f in FIELDS]


def on_time_rate(counts: list[int] | tuple[int, ...]) -> float | None:
    done = counts[2] + counts[3]
    return None if done == 0 else 100.0 * counts[2] / done


class ProgressModel:
    def __init__(self, settings: ProgressSettings):
        self.s = settings
        self.zone = ZoneInfo(settings.timezone)
        self.hall_name = ""
        self.summary: DossierProgress | None = None
        self.live: dict[str, _Live] = {}
        self.online = False
        self.page_index = 0
        self.page_from: float | None = None  # the first page starts when there are figures to show

    # ------------------------------------------------------------------ inputs

    def hall_config(self, config: HallConfig) -> bool:
        changed = config.hall_name != self.hall_name
        self.hall_name = config.hall_name
        return changed

    def progress(self, summary: DossierProgress | None) -> bool:
        """A new summary replaces the old whole (None: cleared); the additions it covers are dropped."""
        if summary is not None and self.summary is not None and summary.updated_at < self.summary.updated_at:
            return False  # an older summary redelivered: keep the newer one
        changed = summary != self.summary
        self.summary = summary
        if summary is not None:
            for code in [c for c, v in self.live.items() if self._covered(v, summary)]:
                del self.live[code]
            for v in self.live.values():
                v.group = self._group_for(v.code, v.procedure)
        return changed

    def dossiers(self, update: DossierStatusUpdate) -> bool:
        changed = False
        for rec in update.records:
            changed |= self._record(rec)
        while len(self.live) > _MAX_LIVE:
            del self.live[next(iter(self.live))]
        return changed

    def link(self, online: bool) -> bool:
        changed = online != self.online
        self.online = online
        return changed

    # ------------------------------------------------------------------ the stream

    def _record(self, rec: DossierRecord) -> bool:
        s = self.summary
        if s is not None and rec.updated_at <= s.updated_at:
            return False  # the summary already counts it
        live = self.live.get(rec.code)
        if live is None:
            live = _Live(rec.code, rec.procedure, self._group_for(rec.code, rec.procedure))
        before = (live.received_at, live.done_at)
        if rec.status == "received" and live.received_at is None:
            live.received_at = rec.updated_at
        if rec.status in _DONE and live.done_at is None:
            live.done_at = rec.updated_at
            local_day = rec.updated_at.astimezone(self.zone).date()
            live.on_time = rec.appointment_date is None or local_day <= rec.appointment_date
        if (live.received_at, live.done_at) == before:
            return False
        self.live[rec.code] = live
        return True

    def _group_for(self, code: str, procedure: str) -> str | None:
        """The group a dossier belongs to: by the agency that begins its code, else by its procedure."""
        s = self.summary
        if s is None:
            return None
        agency = code.split("-", 1)[0]
        for g in s.groups:
            if agency in g.agency_codes:
                # one agency for several areas (a commune's People's Committee): the procedure tells them apart
                if not any(agency in other.agency_codes for other in s.groups if other is not g) \
                        or procedure in g.procedures:
                    return g.key
        for g in s.groups:
            if procedure in g.procedures:
                return g.key
        return None

    @staticmethod
    def _covered(v: _Live, s: DossierProgress) -> bool:
        return all(t is None or t <= s.updated_at for t in (v.received_at, v.done_at))

    def _additions(self, period: str, local_day) -> dict[str | None, list[int]]:
        """What the stream adds in ``period``, per group key (None: dossiers of no group), in one pass."""
        add: dict[str | None, list[int]] = {}
        for v in self.live.values():
            for at, field in ((v.received_at, "received"), (v.done_at, "done_on_time" if v.on_time else "done_late")):
                if at is None:
                    continue
                day = at.astimezone(self.zone).date()
                if day == local_day or (period == "month" and (day.year, day.month) == (local_day.year,
                                                                                          local_day.month)):
                    add.setdefault(v.group, [0] * len(FIELDS))[FIELDS.index(field)] += 1
        return add

    # ------------------------------------------------------------------ time

    def _pages(self) -> list[tuple[str, int]]:
        s = self.summary
        if s is None:
            return []
        chunks = max(1, -(-len(s.groups) // self.s.rows_per_page))
        return [(period, i) for period in ("today", "month") for i in range(chunks)]

    def tick(self, now: float) -> None:
        pages = self._pages()
        if not pages:
            self.page_index, self.page_from = 0, now
            return
        if self.page_from is None or self.page_index >= len(pages):
            self.page_index, self.page_from = 0, now
        elif now >= self.page_from + self.s.page_s:
            self.page_index = (self.page_index + 1) % len(pages)
            self.page_from = now

    def next_deadline(self, now: float, wall: datetime) -> float:
        deadlines = [now + 60 - wall.second - wall.microsecond / 1e6]  # the clock's next minute
        if len(self._pages()) > 1 and self.page_from is not None:
            deadlines.append(self.page_from + self.s.page_s)
        return min(deadlines)

    # ------------------------------------------------------------------ output

    def view(self, now: float, wall: datetime) -> ProgressView:
        self.tick(now)
        t = self.s.texts
        local = wall.astimezone(self.zone)
        clock, date_text = local.strftime("%H:%M"), f"{t.weekdays[local.weekday()]}, {local:%d/%m/%Y}"
        s = self.summary
        target = self.s.on_time_target_pct if s is None or s.on_time_target_pct is None else s.on_time_target_pct
        if s is None:
            return ProgressView(self.hall_name, None, "", "area", (), None, target, 0, 0, clock, date_text, "",
                                False, self.online)
        pages = self._pages()
        period, chunk = pages[self.page_index]
        # the summary's day is "today" for its figures; the stream adds only to that day and its month
        added = self._additions(period, s.day)
        none = [0] * len(FIELDS)
        rows = []
        for g in s.groups:
            base = counts_of(g.today if period == "today" else g.month)
            counts = tuple(b + a for b, a in zip(base, added.get(g.key, none)))
            rows.append(Row(g.name, counts, on_time_rate(counts)))
        # the total also counts the stream's dossiers that belong to no group
        total_counts = tuple(sum(r.counts[i] for r in rows) + added.get(None, none)[i] for i in range(len(FIELDS)))
        total = Row(t.total, total_counts, on_time_rate(total_counts))
        n = self.s.rows_per_page
        updated_local = s.updated_at.astimezone(self.zone)
        stale = (wall - s.updated_at).total_seconds() > self.s.stale_after_min * 60 or s.day != local.date()
        updated = (t.stale if stale else t.updated).format(time=updated_local.strftime("%H:%M"),
                                                           date=updated_local.strftime("%d/%m/%Y"))
        title = (t.today.format(date=s.day.strftime("%d/%m/%Y")) if period == "today"
                 else t.month.format(month=f"{s.day.month:02}", year=s.day.year))
        return ProgressView(
            hall_name=self.hall_name, period=period, period_title=title, group_by=s.group_by,
            rows=tuple(rows[chunk * n:(chunk + 1) * n]), total=total, target_pct=target,
            page=self.page_index + 1, pages=len(pages), clock=clock, date=date_text, updated=updated,
            stale=stale, online=self.online)
