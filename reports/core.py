"""The report itself: every figure, computed from records, pure (no files, no database).

Each figure is counted at the time of the event that means it, in the hall's
time zone:

* issued — ``issued_at``, in the area it was issued in;
* called — every call of a citizen to a counter (a transferred ticket is called twice);
* served — ``finished_at`` of a ticket done, where it ended (area, counter, officer);
* no-shows — ``skipped_at`` of a ticket skipped and never brought back;
* cancelled — a waiting ticket withdrawn (the kiosk could not print it), at ``finished_at``;
* transferred — the transfer's time, at the counter (and area) that sent it on;
* not served — tickets of the period still waiting when the day was reset;
* waiting time — issue to *first* call, counted when that call happened, in the area
  it was issued in and at the counter that made the call;
* service time — last call to finish, counted at the finish;
* satisfaction — ratings counted at ``given_at`` (see :class:`RatingRecord`); the rate is
  the share of "very satisfied" + "satisfied" among those who rated ("did not rate" is
  shown but is not a rating). Reasons are those chosen with "not satisfied".

Medians are the usual median (the mean of the two middle values for an even count);
the 90th percentile is the nearest-rank one (a waiting time that really happened:
90% of citizens waited at most that long). Minutes and percentages are rounded to
one decimal, as shown.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from .periods import Period
from .records import HallInfo, RatingRecord, Records, Targets, TicketRecord, TransferRecord

GROUPINGS = ("area", "counter", "officer")
UNKNOWN = "-"


@dataclass(frozen=True)
class Stats:
    """Minutes: how many, median, 90th percentile, longest, mean."""

    count: int = 0
    median: float | None = None
    p90: float | None = None
    max: float | None = None
    mean: float | None = None

    @staticmethod
    def of(values: list[float]) -> Stats:
        if not values:
            return Stats()
        v = sorted(values)
        n = len(v)
        mid = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
        p90 = v[max(0, math.ceil(0.9 * n) - 1)]
        return Stats(n, _r(mid), _r(p90), _r(v[-1]), _r(sum(v) / n))


def _r(x: float | None) -> float | None:
    return None if x is None else round(x + 0.0, 1)


@dataclass
class Figures:
    """One line of a report: the hall, or one area, counter or officer."""

    key: str
    name: str
    issued: int = 0
    called: int = 0
    served: int = 0
    no_shows: int = 0
    cancelled: int = 0
    transferred: int = 0
    not_served: int = 0
    wait: Stats = field(default_factory=Stats)
    service: Stats = field(default_factory=Stats)
    very_satisfied: int = 0
    satisfied: int = 0
    unsatisfied: int = 0
    not_rated: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    indicators: dict[str, float] = field(default_factory=dict)  # code -> mean score (0-2)
    indicator_forms: int = 0
    satisfied_pct: float | None = None
    below_satisfaction_target: bool = False
    above_wait_target: bool = False
    previous: Figures | None = None

    @property
    def rated(self) -> int:
        return self.very_satisfied + self.satisfied + self.unsatisfied

    @property
    def active(self) -> bool:
        return any((self.issued, self.called, self.served, self.no_shows, self.cancelled, self.transferred,
                    self.not_served, self.rated, self.not_rated))


@dataclass
class HourFigures:
    hour: int  # local hour of the day, 0-23
    issued: int
    served: int
    wait: Stats  # of the citizens who took their number in that hour


@dataclass
class DayFigures:
    day: date
    issued: int
    served: int
    no_shows: int
    rated: int
    satisfied_pct: float | None
    wait: Stats


@dataclass
class Report:
    hall: HallInfo
    period: Period
    previous_period: Period
    targets: Targets
    generated_at: datetime
    total: Figures
    groups: dict[str, list[Figures]]  # grouping -> lines, in display order
    hours: list[HourFigures]
    days: list[DayFigures]

    @property
    def empty(self) -> bool:
        """Nothing happened in the period: the report says so instead of showing zeros."""
        return not self.total.active


# ---------------------------------------------------------------------------- accumulation


class _Acc:
    __slots__ = ("issued", "called", "served", "no_shows", "cancelled", "transferred", "not_served", "waits",
                 "services", "levels", "reasons", "ind_sum", "ind_n", "forms")

    def __init__(self) -> None:
        self.issued = self.called = self.served = self.no_shows = 0
        self.cancelled = self.transferred = self.not_served = self.forms = 0
        self.waits: list[float] = []
        self.services: list[float] = []
        self.levels = [0, 0, 0, 0]
        self.reasons: Counter = Counter()
        self.ind_sum: Counter = Counter()
        self.ind_n: Counter = Counter()


_LEVEL_INDEX = {"very_satisfied": 0, "satisfied": 1, "unsatisfied": 2, "not_rated": 3}


class _Local:
    """Local date and hour of UTC instants, cached per quarter hour (every zone's offset is a multiple)."""

    def __init__(self, tz: str):
        self.tz = ZoneInfo(tz)
        self.cache: dict[int, tuple[date, int]] = {}

    def __call__(self, t: datetime) -> tuple[date, int]:
        q = int(t.timestamp()) // 900
        got = self.cache.get(q)
        if got is None:
            local = t.astimezone(self.tz)
            got = self.cache[q] = (local.date(), local.hour)
        return got


class _Accumulator:
    def __init__(self, period: Period, multi_site: bool, local: _Local, detail: bool):
        self.start, self.end = period.start, period.end
        self.multi = multi_site
        self.local = local
        self.detail = detail  # hours and days: for the report's period, not for the comparison
        self.total = _Acc()
        self.groups: dict[str, dict[str, _Acc]] = {g: {} for g in GROUPINGS}
        self.hour_issued = [0] * 24
        self.hour_served = [0] * 24
        self.hour_waits: list[list[float]] = [[] for _ in range(24)]
        self.days: dict[date, list] = {}  # day -> [issued, served, no_shows, rated, good, waits]

    def inside(self, t: datetime | None) -> bool:
        return t is not None and self.start <= t < self.end

    def _key(self, site: str, value) -> str:
        text = UNKNOWN if value is None or value == "" else str(value)
        return f"{site}/{text}" if self.multi and site else text

    def accs(self, site: str, area, counter, officer) -> tuple[_Acc, ...]:
        out = [self.total]
        for grouping, value in (("area", area), ("counter", counter), ("officer", officer)):
            if grouping != "area" and value is None:
                continue  # issued or cancelled tickets have no counter or officer
            table = self.groups[grouping]
            key = self._key(site, value)
            acc = table.get(key)
            if acc is None:
                acc = table[key] = _Acc()
            out.append(acc)
        return tuple(out)

    def day(self, t: datetime) -> list:
        d = self.local(t)[0]
        row = self.days.get(d)
        if row is None:
            row = self.days[d] = [0, 0, 0, 0, 0, []]
        return row

    def ticket(self, t: TicketRecord, moves: list[TransferRecord] | None) -> None:
        inside, site = self.inside, t.site
        if inside(t.issued_at):
            for a in self.accs(site, t.issue_area, None, None):
                a.issued += 1
            if self.detail:
                self.hour_issued[self.local(t.issued_at)[1]] += 1
                self.day(t.issued_at)[0] += 1
            if t.status == "expired" and t.skipped_at is None:
                for a in self.accs(site, t.area, None, None):
                    a.not_served += 1
        # a transferred and never called again ticket still holds the call its transfer recorded
        if inside(t.called_at) and not (moves and any(x.called_at == t.called_at for x in moves)):
            for a in self.accs(site, t.area, t.counter, t.officer):
                a.called += 1
        # the first call: at the transferring counter if the ticket was transferred, else its only one
        first = min(moves, key=lambda x: x.called_at) if moves else None
        if first is not None:
            first_at, counter, officer = first.called_at, first.counter, first.officer
        else:
            first_at, counter, officer = t.called_at, t.counter, t.officer
        if inside(first_at):
            wait = (first_at - t.issued_at).total_seconds() / 60
            for a in self.accs(site, t.issue_area, counter, officer):
                a.waits.append(wait)
            if self.detail:
                self.hour_waits[self.local(t.issued_at)[1]].append(wait)
                self.day(first_at)[5].append(wait)
        status = t.status
        if status == "done" and inside(t.finished_at):
            service = (t.finished_at - t.called_at).total_seconds() / 60 if t.called_at else None
            for a in self.accs(site, t.area, t.counter, t.officer):
                a.served += 1
                if service is not None:
                    a.services.append(service)
            if self.detail:
                self.hour_served[self.local(t.finished_at)[1]] += 1
                self.day(t.finished_at)[1] += 1
        elif status == "cancelled" and inside(t.finished_at):
            for a in self.accs(site, t.area, None, None):
                a.cancelled += 1
        if t.skipped_at is not None and status in ("skipped", "expired") and inside(t.skipped_at):
            for a in self.accs(site, t.area, t.counter, t.officer):
                a.no_shows += 1
            if self.detail:
                self.day(t.skipped_at)[2] += 1

    def transfer(self, x: TransferRecord) -> None:
        if self.inside(x.at):
            for a in self.accs(x.site, x.from_area, x.counter, x.officer):
                a.transferred += 1
        if self.inside(x.called_at) and x.ticket_id is not None:
            for a in self.accs(x.site, x.from_area, x.counter, x.officer):
                a.called += 1

    def rating(self, r: RatingRecord) -> None:
        at = r.given_at
        if not self.inside(at):
            return
        i = _LEVEL_INDEX.get(r.level)
        if i is None:
            return
        for a in self.accs(r.site, r.area, r.counter, r.officer):
            a.levels[i] += 1
            if i == 2 and r.reasons:
                a.reasons.update(r.reasons)
            if r.indicators:
                a.forms += 1
                for code, score in r.indicators.items():
                    a.ind_sum[code] += score
                    a.ind_n[code] += 1
        if self.detail and i < 3:
            row = self.day(at)
            row[3] += 1
            row[4] += i < 2


# ---------------------------------------------------------------------------- figures


def _pct(good: int, rated: int) -> float | None:
    return _r(100.0 * good / rated) if rated else None


def _figures(key: str, name: str, a: _Acc, targets: Targets) -> Figures:
    very, sat, unsat, not_rated = a.levels
    rated = very + sat + unsat
    wait = Stats.of(a.waits)
    f = Figures(
        key=key, name=name, issued=a.issued, called=a.called, served=a.served, no_shows=a.no_shows,
        cancelled=a.cancelled, transferred=a.transferred, not_served=a.not_served, wait=wait,
        service=Stats.of(a.services), very_satisfied=very, satisfied=sat, unsatisfied=unsat, not_rated=not_rated,
        reasons=dict(sorted(a.reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        indicators={c: round(a.ind_sum[c] / a.ind_n[c], 2) for c in sorted(a.ind_n)},
        indicator_forms=a.forms, satisfied_pct=_pct(very + sat, rated),
    )
    # compare exact counts, not the rounded percentage: 74.96% is below a 75% target
    f.below_satisfaction_target = rated > 0 and 100.0 * (very + sat) < targets.satisfaction_pct * rated
    f.above_wait_target = (targets.wait_p90_min is not None and wait.p90 is not None
                           and wait.p90 > targets.wait_p90_min)
    return f


def _name(hall: HallInfo, grouping: str, key: str, multi: bool) -> str:
    site, _, code = key.rpartition("/") if multi else ("", "", key)
    if code == UNKNOWN:
        base = {"area": "Không rõ lĩnh vực", "counter": "Không rõ quầy", "officer": "Không rõ cán bộ"}[grouping]
    elif grouping == "area":
        base = hall.areas.get(code, code)
    elif grouping == "counter":
        base = hall.counters.get(int(code), f"Quầy {code}") if code.isdigit() else code
    else:
        base = hall.officers.get(code, code)
    return f"{site} · {base}" if site else base


def _order(grouping: str, hall: HallInfo, keys: Iterable[str], multi: bool) -> list[str]:
    areas = list(hall.areas)

    def rank(key: str):
        site, _, code = key.rpartition("/") if multi else ("", "", key)
        if code == UNKNOWN:
            return (site, 2, 0, "")
        if grouping == "counter":
            return (site, 0, int(code) if code.isdigit() else 0, code)
        if grouping == "area":
            return (site, 0, areas.index(code) if code in areas else len(areas), code)
        return (site, 0, 0, hall.officers.get(code, code))

    return sorted(keys, key=rank)


def build(records: Records, period: Period, hall: HallInfo, targets: Targets = Targets(),
          generated_at: datetime | None = None, previous: Period | None = None) -> Report:
    """Every figure of ``period`` (and of the previous period of the same length, for comparison).

    ``records`` must hold what happened in both periods; anything outside them is ignored,
    so a caller may pass more.
    """
    prev_period = previous or period.previous()
    local = _Local(period.timezone)
    multi = len({t.site for t in records.tickets} | {r.site for r in records.ratings}) > 1
    cur = _Accumulator(period, multi, local, detail=True)
    old = _Accumulator(prev_period, multi, local, detail=False)
    moves: dict[tuple[str, str], list[TransferRecord]] = {}
    for x in records.transfers:
        cur.transfer(x)
        old.transfer(x)
        if x.ticket_id is not None and x.called_at is not None:
            moves.setdefault((x.site, x.ticket_id), []).append(x)
    for t in records.tickets:
        mine = moves.get((t.site, t.ticket_id)) if moves else None
        cur.ticket(t, mine)
        old.ticket(t, mine)
    for r in records.ratings:
        cur.rating(r)
        old.rating(r)

    total = _figures("hall", hall.name, cur.total, targets)
    total.previous = _figures("hall", hall.name, old.total, targets)
    groups: dict[str, list[Figures]] = {}
    for g in GROUPINGS:
        now_t, old_t = cur.groups[g], old.groups[g]
        keys = set(now_t)
        if g == "area":
            keys |= set(hall.areas) if not multi else set()
        if g == "counter" and not multi:
            keys |= {str(n) for n in hall.counters}
        lines = []
        for key in _order(g, hall, keys, multi):
            name = _name(hall, g, key, multi)
            f = _figures(key, name, now_t.get(key) or _Acc(), targets)
            f.previous = _figures(key, name, old_t.get(key) or _Acc(), targets) if key in old_t else None
            lines.append(f)
        groups[g] = lines

    hours = [HourFigures(h, cur.hour_issued[h], cur.hour_served[h], Stats.of(cur.hour_waits[h])) for h in range(24)]
    days = []
    for d in period.days():
        row = cur.days.get(d, [0, 0, 0, 0, 0, []])
        days.append(DayFigures(d, row[0], row[1], row[2], row[3], _pct(row[4], row[3]), Stats.of(row[5])))
    return Report(hall=hall, period=period, previous_period=prev_period, targets=targets,
                  generated_at=generated_at or datetime.now(timezone.utc), total=total, groups=groups,
                  hours=hours, days=days)
