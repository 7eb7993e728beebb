"""The report for machines: CSV, UTF-8, English snake-case headers, '.' decimals, empty = no value."""

from __future__ import annotations

import csv
from pathlib import Path

from .core import Report
from .labels import COLUMNS, PREVIOUS_COLUMNS

FIGURE_HEADER = (["period_kind", "period_id", "period_start", "period_end", "grouping", "key", "name"]
                 + [k for k, _, _ in COLUMNS + PREVIOUS_COLUMNS]
                 + ["below_satisfaction_target", "above_wait_target"])


def _value(v):
    return "" if v is None else v


def write_csv(report: Report, folder: Path, stem: str) -> list[Path]:
    """``{stem}-figures.csv`` (the hall and every area, counter, officer), ``-days``, ``-hours``, ``-reasons``."""
    p = report.period
    head = [p.kind, p.ident, p.start.isoformat(), p.end.isoformat()]
    paths = []

    path = folder / f"{stem}-figures.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(FIGURE_HEADER)
        lines = [("hall", report.total)] + [(g, f) for g, fs in report.groups.items() for f in fs]
        for grouping, f in lines:
            w.writerow(head + [grouping, f.key, f.name] + [_value(get(f)) for _, _, get in COLUMNS + PREVIOUS_COLUMNS]
                       + [int(f.below_satisfaction_target), int(f.above_wait_target)])
    paths.append(path)

    path = folder / f"{stem}-days.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["day", "issued", "served", "no_shows", "rated", "satisfied_pct", "wait_median_min"])
        for d in report.days:
            w.writerow([d.day.isoformat(), d.issued, d.served, d.no_shows, d.rated, _value(d.satisfied_pct),
                        _value(d.wait.median)])
    paths.append(path)

    path = folder / f"{stem}-hours.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["hour", "issued", "served", "wait_median_min", "wait_p90_min"])
        for h in report.hours:
            w.writerow([h.hour, h.issued, h.served, _value(h.wait.median), _value(h.wait.p90)])
    paths.append(path)

    path = folder / f"{stem}-reasons.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["grouping", "key", "reason", "count"])
        for grouping, f in [("hall", report.total)] + [(g, f) for g, fs in report.groups.items() for f in fs]:
            for code, n in f.reasons.items():
                w.writerow([grouping, f.key, code, n])
    paths.append(path)
    return paths
