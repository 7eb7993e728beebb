"""A report's summary figures as the wire message, and the small program the dispatcher runs
to compute them (``python -m reports.summary``) in a process of its own: a year of a busy hall
is hundreds of megabytes of arithmetic for a few seconds, which the queue authority's own process
should neither wait for nor keep.

    python -m reports.summary --database DB --timezone Asia/Ho_Chi_Minh --kinds day,week \
        [--satisfaction-target 75] [--wait-target 25] [--cutoff-weekday 4 --cutoff-time 14:00]

prints one ReportSummary JSON per line, one per period kind.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, time, timezone
from typing import Any, cast

from motcua.protocol import ReportSummary
from motcua.protocol.messages import PeriodFigures

from . import build, current, load_sqlite
from .core import Figures, Report
from .periods import Period, WeeklyCutoff
from .records import HallInfo, Targets


def _figures(f: Figures, period: Period) -> PeriodFigures:
    return PeriodFigures(
        start=period.start, end=period.end, label=period.label, issued=f.issued, called=f.called, served=f.served,
        no_shows=f.no_shows, cancelled=f.cancelled, transferred=f.transferred, not_served=f.not_served,
        wait_median_min=f.wait.median, wait_p90_min=f.wait.p90, wait_max_min=f.wait.max,
        service_median_min=f.service.median, very_satisfied=f.very_satisfied, satisfied=f.satisfied,
        unsatisfied=f.unsatisfied, not_rated=f.not_rated, satisfied_pct=f.satisfied_pct,
        below_satisfaction_target=f.below_satisfaction_target, above_wait_target=f.above_wait_target)


def summary(report: Report) -> ReportSummary:
    """The hall's line of a report, and of its previous period, as published on ``hall/report/{period}``."""
    return ReportSummary(
        period=cast(Any, report.period.kind), period_id=report.period.ident,  # the model checks the kind
        satisfaction_target_pct=report.targets.satisfaction_pct, wait_target_min=report.targets.wait_p90_min,
        current=_figures(report.total, report.period), previous=_figures(report.previous_total, report.previous_period),
        generated_at=report.generated_at)


def summaries(database, tz: str, kinds: list[str], targets: Targets, cutoff: WeeklyCutoff,
              now: datetime | None = None) -> list[ReportSummary]:
    now = now or datetime.now(timezone.utc)
    out = []
    for kind in kinds:
        period = current(kind, now, tz, cutoff)
        report = build(load_sqlite(database, period), period, HallInfo(name="", timezone=tz), targets, generated_at=now)
        out.append(summary(report))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m reports.summary", description=__doc__.splitlines()[0])
    ap.add_argument("--database", required=True)
    ap.add_argument("--timezone", required=True)
    ap.add_argument("--kinds", required=True)
    ap.add_argument("--satisfaction-target", type=float, default=75.0)
    ap.add_argument("--wait-target", type=float)
    ap.add_argument("--cutoff-weekday", type=int, default=4)
    ap.add_argument("--cutoff-time", default="14:00")
    ap.add_argument("--nice", type=int, default=0, help="lower this process's CPU priority by this much first")
    args = ap.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    cutoff = WeeklyCutoff(args.cutoff_weekday, time.fromisoformat(args.cutoff_time))
    for s in summaries(args.database, args.timezone, args.kinds.split(","),
                       Targets(args.satisfaction_target, args.wait_target), cutoff):
        sys.stdout.write(s.model_dump_json() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
