"""What a report is computed from: plain records, whatever database they came from.

Times are aware datetimes in UTC. ``site`` tells halls apart when one report
covers several (the province); a single hall may leave it empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

LEVELS = ("very_satisfied", "satisfied", "unsatisfied", "not_rated")


@dataclass(frozen=True, slots=True)
class TicketRecord:
    """One ticket as the dispatcher holds it at the end: final area, counter and officer."""

    ticket_id: str
    issued_at: datetime
    issue_area: str  # the queue it was issued in
    area: str  # the queue it ended in (differs after a transfer to another area)
    status: str  # waiting, called, done, skipped, cancelled, expired
    counter: int | None = None  # the counter that called it last
    officer: str | None = None
    called_at: datetime | None = None  # the last call (a transferred ticket is called again)
    finished_at: datetime | None = None  # served, or cancelled
    skipped_at: datetime | None = None  # marked a no-show (cleared when brought back)
    priority: str | None = None
    site: str = ""


@dataclass(frozen=True, slots=True)
class TransferRecord:
    """A ticket sent from one counter to another area or counter."""

    at: datetime
    counter: int  # the counter that transferred it
    officer: str | None = None
    from_area: str | None = None  # None when only the command log knew of it
    ticket_id: str | None = None
    called_at: datetime | None = None  # when that counter had called it: the ticket's first call
    to_area: str | None = None
    to_counter: int | None = None
    site: str = ""


@dataclass(frozen=True, slots=True)
class RatingRecord:
    """A citizen's rating. ``rated_at`` is the pad's claim; ``given_at`` is what a report counts."""

    rated_at: datetime
    received_at: datetime
    level: str  # one of LEVELS
    counter: int
    officer: str | None = None
    area: str | None = None
    ticket_id: str | None = None
    served_at: datetime | None = None  # when the rated ticket was finished, if it is known
    reasons: tuple[str, ...] = ()
    indicators: Mapping[str, int] | None = None
    rating_id: str = ""
    site: str = ""

    @property
    def given_at(self) -> datetime:
        """When the rating was given: the pad's time, but never before the service it rates ended nor
        after the dispatcher received it. A pad that was offline delivers late, and its ratings still
        land in the period they were given; a pad with a wrong clock cannot move them elsewhere."""
        at = min(self.rated_at, self.received_at)
        if self.served_at is not None and at < self.served_at <= self.received_at:
            at = self.served_at
        return at


@dataclass(frozen=True)
class HallInfo:
    """Names a report shows instead of codes. Anything not listed shows its code."""

    name: str
    site: str = ""
    timezone: str = "Asia/Ho_Chi_Minh"
    areas: Mapping[str, str] = field(default_factory=dict)  # code -> name
    counters: Mapping[int, str] = field(default_factory=dict)  # number -> name
    officers: Mapping[str, str] = field(default_factory=dict)  # id -> full name
    reasons: Mapping[str, str] = field(default_factory=dict)  # reason code -> label
    indicators: Mapping[str, str] = field(default_factory=dict)  # indicator code -> label


@dataclass(frozen=True)
class Targets:
    """The hall's targets. Satisfaction: at least this share satisfied among those who rated.
    Waiting: 90% of citizens called within this many minutes (None: no target)."""

    satisfaction_pct: float = 75.0
    wait_p90_min: float | None = None


@dataclass
class Records:
    tickets: list[TicketRecord] = field(default_factory=list)
    ratings: list[RatingRecord] = field(default_factory=list)
    transfers: list[TransferRecord] = field(default_factory=list)

    def extend(self, other: Records) -> Records:
        self.tickets.extend(other.tickets)
        self.ratings.extend(other.ratings)
        self.transfers.extend(other.transfers)
        return self
