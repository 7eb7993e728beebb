"""Records as columns: what the report's arithmetic runs on, so a busy hall's year takes seconds.

Times are UTC epoch seconds (float64, NaN for "never"); areas, counters and officers are codes
into the frame's lists of keys (-1 for none). Build a Frame from plain records
(:meth:`Frame.from_records`) or straight from a database (``reports.sqlite``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .records import Records

NONE = -1
STATUSES = ("waiting", "called", "done", "skipped", "cancelled", "expired")
LEVELS = ("very_satisfied", "satisfied", "unsatisfied", "not_rated")


class Keys:
    """Codes for one kind of key (areas, counters, officers): text -> small integer."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.index: dict[str, int] = {}

    def code(self, key) -> int:
        if key is None or key == "":
            return NONE
        text = str(key)
        i = self.index.get(text)
        if i is None:
            i = self.index[text] = len(self.names)
            self.names.append(text)
        return i

    def codes(self, values: Sequence) -> np.ndarray:
        """Codes of many values at once (None and '' are NONE)."""
        if not len(values):
            return np.zeros(0, dtype=np.int32)
        uniq = {v for v in values}
        table = {v: self.code(v) for v in uniq}
        return np.fromiter((table[v] for v in values), dtype=np.int32, count=len(values))


@dataclass(frozen=True)
class ReasonPairs:
    """The reasons of every rating as flat columns: rating row and reason code, one pair per reason
    chosen (as often as it was chosen); and the rows of the ratings that carry indicator scores."""

    rows: np.ndarray  # int64
    codes: np.ndarray  # int64, into names
    names: list[str]
    indicator_rows: np.ndarray  # int64


def times(values: Iterable[float | None], n: int) -> np.ndarray:
    # whole seconds, floored, as the SQLite loader reads them: the same records give the same figures
    return np.floor(np.fromiter((np.nan if v is None else v for v in values), dtype=np.float64, count=n))


@dataclass
class Frame:
    areas: Keys = field(default_factory=Keys)
    counters: Keys = field(default_factory=Keys)
    officers: Keys = field(default_factory=Keys)
    sites: set[str] = field(default_factory=set)
    # tickets
    issued: np.ndarray = field(default_factory=lambda: np.zeros(0))
    called: np.ndarray = field(default_factory=lambda: np.zeros(0))
    finished: np.ndarray = field(default_factory=lambda: np.zeros(0))
    skipped: np.ndarray = field(default_factory=lambda: np.zeros(0))
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    issue_area: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    area: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    counter: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    officer: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    ticket_ids: Mapping[tuple[str, str], int] | None = None  # (site, ticket id) -> row, built on demand
    # transfers
    x_at: np.ndarray = field(default_factory=lambda: np.zeros(0))
    x_called: np.ndarray = field(default_factory=lambda: np.zeros(0))
    x_counter: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    x_officer: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    x_area: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    x_ticket: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # row of the ticket, or -1
    # ratings
    r_rated: np.ndarray = field(default_factory=lambda: np.zeros(0))
    r_received: np.ndarray = field(default_factory=lambda: np.zeros(0))
    r_served: np.ndarray = field(default_factory=lambda: np.zeros(0))
    r_level: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int8))
    r_counter: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    r_officer: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    r_area: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    r_reasons: list[tuple[str, ...]] = field(default_factory=list)  # per rating, unless ``reasons`` is given
    r_indicators: list[Mapping[str, int] | None] = field(default_factory=list)
    r_extra: np.ndarray | None = None  # True where a rating has reasons or indicators (None: look at each)
    # the reasons as columns: given by a loader that reads them so, or made from r_reasons on first use
    reasons: ReasonPairs | None = field(default=None, repr=False, compare=False)

    def reason_pairs(self) -> ReasonPairs:
        """The ratings' reasons and indicator rows as columns (built once, on first use)."""
        if self.reasons is None:
            extra = range(len(self.r_reasons)) if self.r_extra is None else np.flatnonzero(self.r_extra).tolist()
            names: dict[str, int] = {}
            rows: list[int] = []
            codes: list[int] = []
            indicator_rows = []
            for i in extra:
                for reason in self.r_reasons[i]:
                    rows.append(i)
                    codes.append(names.setdefault(reason, len(names)))
                if self.r_indicators[i]:
                    indicator_rows.append(i)
            self.reasons = ReasonPairs(np.array(rows, dtype=np.int64), np.array(codes, dtype=np.int64),
                                       list(names), np.array(indicator_rows, dtype=np.int64))
        return self.reasons

    @property
    def multi_site(self) -> bool:
        return len(self.sites) > 1

    @staticmethod
    def from_records(records: Records) -> Frame:
        f = Frame()
        f.sites = {t.site for t in records.tickets} | {r.site for r in records.ratings} | \
            {x.site for x in records.transfers}
        multi = len(f.sites) > 1

        def key(site: str, value):
            if value is None or value == "":
                return None
            return f"{site}/{value}" if multi and site else value

        ts, n = records.tickets, len(records.tickets)
        f.issued = times((t.issued_at.timestamp() for t in ts), n)
        f.called = times((t.called_at.timestamp() if t.called_at else None for t in ts), n)
        f.finished = times((t.finished_at.timestamp() if t.finished_at else None for t in ts), n)
        f.skipped = times((t.skipped_at.timestamp() if t.skipped_at else None for t in ts), n)
        f.status = np.fromiter((STATUSES.index(t.status) if t.status in STATUSES else 0 for t in ts),
                               dtype=np.int8, count=n)
        f.issue_area = f.areas.codes([key(t.site, t.issue_area) for t in ts])
        f.area = f.areas.codes([key(t.site, t.area) for t in ts])
        f.counter = f.counters.codes([key(t.site, t.counter) for t in ts])
        f.officer = f.officers.codes([key(t.site, t.officer) for t in ts])
        rows: dict[tuple[str, str | None], int] = {(t.site, t.ticket_id): i for i, t in enumerate(ts)}
        xs, m = records.transfers, len(records.transfers)
        f.x_at = times((x.at.timestamp() for x in xs), m)
        f.x_called = times((x.called_at.timestamp() if x.called_at else None for x in xs), m)
        f.x_counter = f.counters.codes([key(x.site, x.counter) for x in xs])
        f.x_officer = f.officers.codes([key(x.site, x.officer) for x in xs])
        f.x_area = f.areas.codes([key(x.site, x.from_area) for x in xs])
        f.x_ticket = np.fromiter((rows.get((x.site, x.ticket_id), NONE) for x in xs), dtype=np.int64, count=m)
        rs, k = records.ratings, len(records.ratings)
        f.r_rated = times((r.rated_at.timestamp() for r in rs), k)
        f.r_received = times((r.received_at.timestamp() for r in rs), k)
        f.r_served = times((r.served_at.timestamp() if r.served_at else None for r in rs), k)
        f.r_level = np.fromiter((LEVELS.index(r.level) if r.level in LEVELS else NONE for r in rs),
                                dtype=np.int8, count=k)
        f.r_counter = f.counters.codes([key(r.site, r.counter) for r in rs])
        f.r_officer = f.officers.codes([key(r.site, r.officer) for r in rs])
        f.r_area = f.areas.codes([key(r.site, r.area) for r in rs])
        f.r_reasons = [tuple(r.reasons) for r in rs]
        f.r_indicators = [r.indicators for r in rs]
        return f
