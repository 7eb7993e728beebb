"""Reports for the hall's leadership: figures per period, per area, counter and officer, against the targets.

The API the command line, the dispatcher, the web console and the province collector share::

    import reports
    reports.preload()                                                          # optional: see preload()
    period = reports.period_of("week", date(2026, 11, 23), "Asia/Ho_Chi_Minh")   # or current(), last_complete()
    records = reports.load_sqlite("/var/lib/motcua/dispatcher.db", period)     # or your own Records
    report = reports.build(records, period, hall, reports.Targets(satisfaction_pct=75))
    paths = reports.write_all(report, Path("/var/lib/motcua/reports"))        # XLSX, PDF, CSV, PNG

``build`` is pure: records in, a :class:`Report` out (every figure, the previous period's
figures for comparison, marks for what is below target). The writers are pure functions of
a Report. Nothing here imports a daemon: records come from SQL (``reports.sqlite``, as numpy
columns: a :class:`Frame`) or from whoever builds :class:`Records` of :class:`TicketRecord`,
:class:`RatingRecord` and :class:`TransferRecord` (``site`` tells halls apart: a report over
several halls adds them up, and keeps counters and officers per hall).

Also: ``reports.summary.summary(report)`` is the wire message (``ReportSummary``) the dispatcher
publishes on ``hall/report/{period}``; ``reports.cli.hall_info(settings)`` turns the dispatcher's
settings into a :class:`HallInfo`; ``reports.settings.ReportSettings`` is the ``[reports]`` table.
"""

from __future__ import annotations

import importlib
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .periods import KINDS, Period, WeeklyCutoff, current, custom, last_complete, period_of, reporting_week_at
from .records import HallInfo, RatingRecord, Records, Targets, TicketRecord, TransferRecord

if TYPE_CHECKING:
    from .core import DayFigures, Figures, HourFigures, Report, Stats, build
    from .frame import Frame
    from .text import summary_text

# The figures need numpy (about 13 MB and a second of start-up on a Pi): they load on first use,
# so what only needs the settings or the periods (the web service's and the collector's
# settings, the dispatcher's command line) does not pay for them.
_LAZY = {"Frame": ".frame", "DayFigures": ".core", "Figures": ".core", "HourFigures": ".core", "Report": ".core",
         "Stats": ".core", "build": ".core", "summary_text": ".text"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value

__all__ = [
    "FORMATS", "KINDS", "DayFigures", "Figures", "Frame", "HallInfo", "HourFigures", "Period", "RatingRecord", "Records", "Report",
    "Stats", "Targets", "TicketRecord", "TransferRecord", "WeeklyCutoff", "build", "current", "custom",
    "last_complete", "load_sqlite", "period_of", "preload", "reporting_week_at", "summary_text", "write_all",
]

FORMATS = ("xlsx", "pdf", "csv", "png")


def load_sqlite(database: Path | str, period: Period, site: str = "") -> Frame:
    """What a report of ``period`` (and of the period before it) needs, from a dispatcher database, as columns."""
    from .sqlite import load

    return load(database, period.previous().start, period.end, site)


def preload(formats: tuple[str, ...] = FORMATS) -> None:
    """Start importing the writers of ``formats`` (matplotlib, openpyxl) on a background thread.

    For a process that will load, build and write a report: called before ``load_sqlite``, the
    imports run while SQLite reads (on other threads, without the GIL) instead of after."""
    from .workers import preload as start

    start(formats)


def write_all(report: Report, folder: Path | str, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write the report into ``folder/<period id>/``; returns the files written.

    Files are written under a temporary name and renamed, so a reader (or the timer's
    next run) never sees half a file. In a process of one thread with a second core, the PDF
    is drawn by a forked copy of the process while this one writes the other files.
    """
    from .labels import file_stem
    from .workers import Child, can_fork, wait_preloaded

    wait_preloaded()
    target = Path(folder) / report.period.ident
    target.mkdir(parents=True, exist_ok=True)
    stem = file_stem(report)
    pdf: Child | None = None
    pdf_path = target / f"{stem}.pdf"
    if "pdf" in formats:
        from .charts import write_pdf

        def draw_pdf() -> Path:
            return _atomic(pdf_path, lambda p: write_pdf(report, p))

        pdf = Child(draw_pdf) if can_fork() and len(formats) > 1 else None
        if pdf is None:
            draw_pdf()
    paths: list[Path] = []
    try:
        if "xlsx" in formats:
            from .xlsx import write_xlsx

            paths.append(_atomic(target / f"{stem}.xlsx", lambda p: write_xlsx(report, p)))
        if "pdf" in formats:
            paths.append(pdf_path)
        if "csv" in formats:
            from .csvout import write_csv

            paths += write_csv(report, target, stem)
        if "png" in formats:
            from .charts import write_charts

            paths += write_charts(report, target, stem)
    except BaseException:
        if pdf is not None:
            with suppress(BaseException):  # reaped; the error to report is ours
                pdf.result()
        raise
    if pdf is not None:
        pdf.result()  # raises what the child raised
    return paths


def _atomic(path: Path, write) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    tmp.replace(path)
    return path
