"""The hall's report settings: the ``[reports]`` table of the dispatcher's settings file.

They sit beside the hall they describe (name, time zone, areas, counters, officers), in
``/etc/motcua/dispatcher.toml``, and are loaded by the same strict loader.
"""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import Field, model_validator

from motcua.settings import StrictModel

from .periods import KINDS, WeeklyCutoff
from .records import Targets


class ReportSettings(StrictModel):
    folder: Path = Field(Path("/var/lib/motcua/reports"), description="Where the timer writes the reports.")
    satisfaction_target_pct: float = Field(
        75.0, ge=0, le=100, description="At least this share of citizens who rated are satisfied (decision: 75%).")
    wait_target_min: float | None = Field(
        None, gt=0, le=24 * 60, description="Optional: 90% of citizens are called within this many minutes.")
    weekly_deadline_weekday: int = Field(4, ge=1, le=7, description="ISO weekday of the weekly deadline (4 = Thursday).")
    weekly_deadline_time: time = Field(time(15, 0), description="Local time of the weekly deadline.")
    weekly_lead_min: int = Field(
        60, ge=20, le=3 * 24 * 60,
        description="The reporting week closes this long before the deadline; the timer (every 15 min) writes it then.")
    scheduled: list[str] = Field(
        default_factory=lambda: ["reporting-week", "month", "quarter", "half", "year"],
        description="Reports the timer writes when their period ends.")
    publish_interval_s: int = Field(
        300, ge=30, le=24 * 3600, description="How often the dispatcher republishes today's and this week's figures.")
    publish_long_interval_s: int = Field(
        3600, ge=60, le=7 * 24 * 3600, description="How often it republishes the month's, quarter's, half's, year's.")
    publish_delay_s: float = Field(
        10.0, ge=0, le=3600, description="Wait this long after (re)connecting before computing the figures.")
    reason_labels: dict[str, str] = Field(
        default_factory=dict, description="Names of dissatisfaction reasons (code -> label), beyond the pads' defaults.")
    indicator_labels: dict[str, str] = Field(default_factory=dict, description="Names of the nine indicators.")

    @model_validator(mode="after")
    def _known_kinds(self) -> ReportSettings:
        for kind in self.scheduled:
            if kind not in KINDS:
                raise ValueError(f"scheduled: unknown report {kind!r} (known: {', '.join(KINDS)})")
        return self

    @property
    def targets(self) -> Targets:
        return Targets(self.satisfaction_target_pct, self.wait_target_min)

    @property
    def cutoff(self) -> WeeklyCutoff:
        """The end of the reporting week: the deadline less the lead time."""
        from datetime import datetime, timedelta

        at = datetime.combine(datetime(2024, 1, 1 + self.weekly_deadline_weekday - 1), self.weekly_deadline_time)
        at -= timedelta(minutes=self.weekly_lead_min)
        return WeeklyCutoff(at.isoweekday(), at.time())
