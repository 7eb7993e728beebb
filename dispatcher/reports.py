"""Figures for the hall's leadership, read from the dispatcher's database.

The provinces' target is at least 75% of citizens satisfied; a rating counts
as satisfied when it is 'very_satisfied' or 'satisfied'. 'not_rated' records
(the citizen walked away) are reported but are not ratings.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SatisfactionRow:
    key: str  # counter number or area code
    rated: int
    very_satisfied: int
    satisfied: int
    unsatisfied: int
    not_rated: int

    @property
    def rate(self) -> float | None:
        """Share of satisfied citizens among those who rated, in percent."""
        return 100.0 * (self.very_satisfied + self.satisfied) / self.rated if self.rated else None


def satisfaction(database: Path | str, by: str = "counter", since: str | None = None) -> list[SatisfactionRow]:
    """Satisfaction per counter or per area (``by``), for ratings received since an ISO time (or all)."""
    column = {"counter": "counter", "area": "area"}[by]
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = db.execute(
            f"SELECT COALESCE({column}, '-'), "
            "SUM(level != 'not_rated'), SUM(level = 'very_satisfied'), SUM(level = 'satisfied'), "
            "SUM(level = 'unsatisfied'), SUM(level = 'not_rated') "
            f"FROM ratings WHERE received_at >= ? GROUP BY {column} ORDER BY {column}",
            (since or "",)).fetchall()
    finally:
        db.close()
    return [SatisfactionRow(str(r[0]), *(int(v or 0) for v in r[1:])) for r in rows]
