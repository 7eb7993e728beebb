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
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np

from .frame import LEVELS, STATUSES, Frame
from .periods import Period
from .records import HallInfo, Records, Targets

GROUPINGS = ("area", "counter", "officer")
BESIDE_ROWS = 100_000  # a period's waits sorted on a thread of their own from this many on
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
    def of(values) -> Stats:
        return Stats.of_sorted(np.sort(np.asarray(values, dtype=np.float64)))

    @staticmethod
    def of_sorted(v: np.ndarray) -> Stats:
        n = len(v)
        if not n:
            return Stats()
        mid = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
        p90 = v[max(0, math.ceil(0.9 * n) - 1)]
        return Stats(n, _r(float(mid)), _r(float(p90)), _r(float(v[-1])), _r(float(v.sum()) / n))


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
    def previous_total(self) -> Figures:
        """The hall's figures over the previous period (``build`` always computes them)."""
        return self.total.previous or Figures("hall", self.hall.name)

    @property
    def empty(self) -> bool:
        """Nothing happened in the period: the report says so instead of showing zeros."""
        return not self.total.active


# ---------------------------------------------------------------------------- arithmetic on columns


def _stats_by(values: np.ndarray, groups: np.ndarray, n: int, order: np.ndarray | None = None) -> list[Stats]:
    """Stats of ``values`` per group code 0..n-1 (values of code -1 are left out).
    ``order``, if given, sorts ``values`` already (shared between groupings)."""
    if order is None:
        order = _sorting(values)
    g = groups[order]
    by_group = _by_group(g, n)  # values stay sorted within each group
    v, g = values[order][by_group], g[by_group]
    bounds = np.searchsorted(g, np.arange(n + 1))
    return [Stats.of_sorted(v[bounds[i]:bounds[i + 1]]) for i in range(n)]


def _sorting(values: np.ndarray) -> np.ndarray:
    """The order that sorts ``values``. Not a stable sort: equal values are the same number, so
    which comes first changes no figure, and the unstable sort is the faster one."""
    return np.argsort(values)


def _by_group(codes: np.ndarray, n: int) -> np.ndarray:
    """A stable order by group code (-1..n-1): small codes sort as 16-bit integers, which numpy
    sorts stably by radix, in one pass."""
    if n < 0xFFFF:
        return np.argsort((codes + 1).astype(np.uint16), kind="stable")
    return np.argsort(codes, kind="stable")


class _Side:
    """Every figure of one period, per hall (index n) and per key of each grouping."""

    def __init__(self, f: Frame, start: float, end: float):
        self.f, self.start, self.end = f, start, end
        self.sizes = {"area": len(f.areas.names), "counter": len(f.counters.names), "officer": len(f.officers.names)}
        self.counts: dict[str, dict[str, np.ndarray]] = {g: {} for g in GROUPINGS}
        self.total: dict[str, int] = {}
        self.stats: dict[str, dict[str, list[Stats]]] = {g: {} for g in GROUPINGS}
        self.total_stats: dict[str, Stats] = {}
        self.rated_rows = np.zeros(0, dtype=np.int64)  # the ratings given in the period
        self.sorted: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (values, the order sorting them)

    def inside(self, t: np.ndarray) -> np.ndarray:
        return (t >= self.start) & (t < self.end)

    def count(self, name: str, mask: np.ndarray, area=None, counter=None, officer=None) -> None:
        self.total[name] = self.total.get(name, 0) + int(mask.sum())
        for g, codes in (("area", area), ("counter", counter), ("officer", officer)):
            table = self.counts[g]
            if codes is None:
                table.setdefault(name, np.zeros(self.sizes[g], dtype=np.int64))
                continue
            c = codes[mask]
            got = np.bincount(c[c >= 0], minlength=self.sizes[g])
            table[name] = table[name] + got if name in table else got

    def stat(self, name: str, values: np.ndarray, area, counter, officer) -> None:
        order = _sorting(values)
        self.sorted[name] = (values, order)
        self.total_stats[name] = Stats.of_sorted(values[order])
        for g, codes in (("area", area), ("counter", counter), ("officer", officer)):
            self.stats[g][name] = _stats_by(values, codes, self.sizes[g], order)


def _compute(f: Frame, side: _Side, first: tuple[np.ndarray, np.ndarray, np.ndarray], dup_call: np.ndarray,
             given: np.ndarray) -> None:
    inside, count = side.inside, side.count
    issued_in = inside(f.issued)
    count("issued", issued_in, area=f.issue_area)
    expired, done = f.status == STATUSES.index("expired"), f.status == STATUSES.index("done")
    no_skip = np.isnan(f.skipped)
    count("not_served", issued_in & expired & no_skip, area=f.area)
    calls = inside(f.called) & ~dup_call
    x_calls = inside(f.x_called) & (f.x_ticket >= 0)
    count("called", calls, f.area, f.counter, f.officer)
    count("called", x_calls, f.x_area, f.x_counter, f.x_officer)
    first_at, first_counter, first_officer = first
    waited = inside(first_at)
    # the waits' sorts on another thread while this one goes on (numpy sorts without the GIL)
    waits = _Beside(side.stat, "wait", (first_at[waited] - f.issued[waited]) / 60, f.issue_area[waited],
                    first_counter[waited], first_officer[waited])
    served = done & inside(f.finished)
    count("served", served, f.area, f.counter, f.officer)
    timed = served & ~np.isnan(f.called)
    side.stat("service", (f.finished[timed] - f.called[timed]) / 60, f.area[timed], f.counter[timed], f.officer[timed])
    count("cancelled", (f.status == STATUSES.index("cancelled")) & inside(f.finished), area=f.area)
    no_show = ~no_skip & ((f.status == STATUSES.index("skipped")) | expired) & inside(f.skipped)
    count("no_shows", no_show, f.area, f.counter, f.officer)
    count("transferred", inside(f.x_at), f.x_area, f.x_counter, f.x_officer)
    rated_in = inside(given)
    for i, level in enumerate(LEVELS):
        count(level, rated_in & (f.r_level == i), f.r_area, f.r_counter, f.r_officer)
    side.rated_rows = np.flatnonzero(rated_in)
    waits.join()


class _Beside:
    """``work(*args)`` on a thread of its own when its first array is large enough for the thread
    to pay (a busy hall's quarter or more), else at once; ``join()`` waits and raises its error."""

    def __init__(self, work, *args) -> None:
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        if len(args[1]) < BESIDE_ROWS:
            work(*args)
            return

        def run() -> None:
            try:
                work(*args)
            except BaseException as exc:  # noqa: BLE001 - raised again by join(), on the caller's thread
                self.error = exc

        self.thread = threading.Thread(target=run, name="motcua-report-figures")
        self.thread.start()

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
        if self.error is not None:
            raise self.error


def _extras(f: Frame, rows: np.ndarray, grouping: str | None, sizes: dict[str, int]):
    """Reasons (of the not satisfied) and indicator means, per key of a grouping or for the hall."""
    codes = {"area": f.r_area, "counter": f.r_counter, "officer": f.r_officer}.get(grouping) if grouping else None
    n = sizes[grouping] if grouping else 1
    reasons: list[Counter[str]] = [Counter() for _ in range(n)]
    sums: list[Counter[str]] = [Counter() for _ in range(n)]
    counts: list[Counter[str]] = [Counter() for _ in range(n)]
    forms = [0] * n
    # reasons: one count over the frame's (rating, reason) pairs, by key and reason
    pairs = f.reason_pairs()
    chosen = np.zeros(len(f.r_level), dtype=bool)
    chosen[rows] = True
    pick = chosen[pairs.rows] & (f.r_level[pairs.rows] == LEVELS.index("unsatisfied"))
    keys = codes[pairs.rows[pick]] if codes is not None else np.zeros(int(pick.sum()), dtype=np.int64)
    known = keys >= 0
    width = len(pairs.names)
    table = np.bincount(keys[known] * width + pairs.codes[pick][known], minlength=n * width).reshape(n, width)
    for k, j in zip(*np.nonzero(table)):
        reasons[k][pairs.names[j]] = int(table[k, j])
    # indicator forms: few, one by one
    for i in pairs.indicator_rows[chosen[pairs.indicator_rows]].tolist():
        k = int(codes[i]) if codes is not None else 0
        if k < 0:
            continue
        forms[k] += 1
        for code, score in (f.r_indicators[i] or {}).items():
            sums[k][code] += score
            counts[k][code] += 1
    return reasons, sums, counts, forms


# ---------------------------------------------------------------------------- figures


def _pct(good: int, rated: int) -> float | None:
    return _r(100.0 * good / rated) if rated else None


def _figures(key: str, name: str, get, wait: Stats, service: Stats, reasons: Counter, sums: Counter,
             counts: Counter, forms: int, targets: Targets) -> Figures:
    very, sat, unsat, not_rated = (get(level) for level in LEVELS)
    rated = very + sat + unsat
    f = Figures(
        key=key, name=name, issued=get("issued"), called=get("called"), served=get("served"),
        no_shows=get("no_shows"), cancelled=get("cancelled"), transferred=get("transferred"),
        not_served=get("not_served"), wait=wait, service=service, very_satisfied=very, satisfied=sat,
        unsatisfied=unsat, not_rated=not_rated,
        reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        indicators={c: round(sums[c] / counts[c], 2) for c in sorted(counts)},
        indicator_forms=forms, satisfied_pct=_pct(very + sat, rated),
    )
    # compare exact counts, not the rounded percentage: 74.96% is below a 75% target
    f.below_satisfaction_target = rated > 0 and 100.0 * (very + sat) < targets.satisfaction_pct * rated
    f.above_wait_target = (targets.wait_p90_min is not None and wait.p90 is not None
                           and wait.p90 > targets.wait_p90_min)
    return f


def _side_figures(f: Frame, side: _Side, hall: HallInfo, targets: Targets):
    """(hall line, {grouping: {key: line}}) of one period."""
    reasons, sums, counts, forms = _extras(f, side.rated_rows, None, side.sizes)
    total = _figures("hall", hall.name, lambda name: side.total.get(name, 0), side.total_stats["wait"],
                     side.total_stats["service"], reasons[0], sums[0], counts[0], forms[0], targets)
    by: dict[str, dict[str, Figures]] = {}
    multi = f.multi_site
    for g in GROUPINGS:
        keys = {"area": f.areas, "counter": f.counters, "officer": f.officers}[g].names
        reasons, sums, counts, forms = _extras(f, side.rated_rows, g, side.sizes)
        lines = {}
        for i, key in enumerate(keys):
            name = _name(hall, g, key, multi)
            lines[key] = _figures(key, name, lambda n, i=i, g=g: int(side.counts[g][n][i]), side.stats[g]["wait"][i],
                                  side.stats[g]["service"][i], reasons[i], sums[i], counts[i], forms[i], targets)
        by[g] = lines
    return total, by


def _epoch(dt: datetime) -> float:
    return round(dt.timestamp(), 3)


class _Local:
    """Local hours and day numbers of many UTC instants (the zone's offset per quarter hour, looked
    up once a day, and every quarter hour of a day whose offset changes: a zone never changes it
    twice within a day)."""

    def __init__(self, tz: str, start: float, end: float):
        self.tz = ZoneInfo(tz)
        self.q0 = int((start - 2 * 86400) // 900)  # tickets issued before the period, called in it
        q1 = int((end + 2 * 86400) // 900)
        per_day = 96
        daily = [_offset(datetime.fromtimestamp((self.q0 + d) * 900, self.tz))
                 for d in range(0, q1 + 1 - self.q0 + per_day, per_day)]
        offsets = np.repeat(np.array(daily[:-1], dtype=np.float64), per_day)[:q1 + 1 - self.q0]
        for d in np.flatnonzero(np.diff(daily)).tolist():  # a day when the clocks change
            for q in range(d * per_day, min((d + 1) * per_day, len(offsets))):
                offsets[q] = _offset(datetime.fromtimestamp((self.q0 + q) * 900, self.tz))
        self.offsets = offsets
        # one offset all through (Vietnam's UTC+7; any zone in a period without a change of the
        # clocks): one addition, not a look-up per instant
        self.constant: float | None = daily[0] if len(set(daily)) == 1 else None

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Local time as seconds since the epoch, as if the zone were UTC (``t`` within the period)."""
        if not len(t):
            return t
        if self.constant is not None:
            return t + self.constant
        q = np.clip((t // 900).astype(np.int64) - self.q0, 0, len(self.offsets) - 1)
        return t + self.offsets[q]


def _offset(local: datetime) -> float:
    """Seconds ahead of UTC (an aware datetime from a ZoneInfo always has an offset)."""
    offset = local.utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def _detail(f: Frame, period: Period, side: _Side, first_at: np.ndarray, given: np.ndarray):
    """Hours of the day and days of the period, for the hall."""
    local = _Local(period.timezone, side.start, side.end)
    inside = side.inside
    hour = lambda t: (np.floor(local(t) / 3600) % 24).astype(np.int64)  # noqa: E731
    days = period.days()
    day0 = days[0].toordinal() - date(1970, 1, 1).toordinal()
    day = lambda t: (np.floor(local(t) / 86400) - day0).astype(np.int64)  # noqa: E731
    nd = len(days)

    issued_in = inside(f.issued)
    done = f.status == STATUSES.index("done")
    served = done & inside(f.finished)
    hour_issued = np.bincount(hour(f.issued[issued_in]), minlength=24)
    hour_served = np.bincount(hour(f.finished[served]), minlength=24)
    waited = inside(first_at)
    waits, order = side.sorted["wait"]  # the same waits as the period's, sorted once
    hour_wait = _stats_by(waits, hour(f.issued[waited]), 24, order)

    def per_day(t: np.ndarray) -> np.ndarray:
        d = day(t)
        return np.bincount(d[(d >= 0) & (d < nd)], minlength=nd)[:nd]

    no_show = ~np.isnan(f.skipped) & ((f.status == STATUSES.index("skipped")) | (f.status == STATUSES.index("expired"))) \
        & inside(f.skipped)
    rated_in = inside(given) & (f.r_level >= 0) & (f.r_level < LEVELS.index("not_rated"))
    good_in = rated_in & (f.r_level < LEVELS.index("unsatisfied"))
    day_issued, day_served = per_day(f.issued[issued_in]), per_day(f.finished[served])
    day_no_show, day_rated, day_good = per_day(f.skipped[no_show]), per_day(given[rated_in]), per_day(given[good_in])
    wd = day(first_at[waited])
    day_wait = _stats_by(waits, np.where((wd >= 0) & (wd < nd), wd, -1), nd, order)
    hours = [HourFigures(h, int(hour_issued[h]), int(hour_served[h]), hour_wait[h]) for h in range(24)]
    out = [DayFigures(d, int(day_issued[i]), int(day_served[i]), int(day_no_show[i]), int(day_rated[i]),
                      _pct(int(day_good[i]), int(day_rated[i])), day_wait[i]) for i, d in enumerate(days)]
    return hours, out


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


def build(records: Records | Frame, period: Period, hall: HallInfo, targets: Targets = Targets(),
          generated_at: datetime | None = None, previous: Period | None = None) -> Report:
    """Every figure of ``period`` (and of the previous period of the same length, for comparison).

    ``records`` (plain :class:`Records`, or a :class:`Frame` of them) must hold what happened in
    both periods; anything outside them is ignored, so a caller may pass more.
    """
    f = records if isinstance(records, Frame) else Frame.from_records(records)
    prev_period = previous or period.previous()
    # the first call: at the transferring counter if the ticket was transferred, else its only one
    first_at, first_counter, first_officer = f.called.copy(), f.counter.copy(), f.officer.copy()
    dup_call = np.zeros(len(f.issued), dtype=bool)
    known = (f.x_ticket >= 0) & ~np.isnan(f.x_called)
    if known.any():
        rows, at = f.x_ticket[known], f.x_called[known]
        order = np.argsort(-at, kind="stable")  # the earliest call is assigned last, and wins
        first_at[rows[order]] = at[order]
        first_counter[rows[order]] = f.x_counter[known][order]
        first_officer[rows[order]] = f.x_officer[known][order]
        # a transferred ticket that nobody called again still holds the call its transfer recorded
        dup_call[rows[at == f.called[rows]]] = True
    given = np.minimum(f.r_rated, f.r_received)
    lift = ~np.isnan(f.r_served) & (given < f.r_served) & (f.r_served <= f.r_received)
    given = np.where(lift, f.r_served, given)
    first = (first_at, first_counter, first_officer)
    cur = _Side(f, _epoch(period.start), _epoch(period.end))
    old = _Side(f, _epoch(prev_period.start), _epoch(prev_period.end))
    for side in (cur, old):
        _compute(f, side, first, dup_call, given)
    total, by = _side_figures(f, cur, hall, targets)
    total.previous, old_by = _side_figures(f, old, hall, targets)
    multi = f.multi_site
    groups: dict[str, list[Figures]] = {}
    for g in GROUPINGS:
        keys = set(k for k, line in by[g].items() if line.active or (old_by[g][k].active))
        if g == "area" and not multi:
            keys |= set(hall.areas)
        if g == "counter" and not multi:
            keys |= {str(n) for n in hall.counters}
        lines = []
        for key in _order(g, hall, keys, multi):
            line = by[g].get(key) or _figures(key, _name(hall, g, key, multi), lambda n: 0, Stats(), Stats(),
                                              Counter(), Counter(), Counter(), 0, targets)
            before = old_by[g].get(key)
            line.previous = before if before is not None and before.active else None
            lines.append(line)
        groups[g] = lines
    hours, days = _detail(f, period, cur, first_at, given)
    return Report(hall=hall, period=period, previous_period=prev_period, targets=targets,
                  generated_at=generated_at or datetime.now(timezone.utc), total=total, groups=groups,
                  hours=hours, days=days)
