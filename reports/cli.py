"""``motcua report``: the hall's reports from the dispatcher's database (opened read-only).

    motcua report week                      this week so far (Monday to now), printed and written
    motcua report week --last               last week, Monday to Sunday
    motcua report month --date 2026-11-15   the month that holds that day
    motcua report reporting-week --last     the week the decision asks for: it ends before the weekly deadline
    motcua report --from 2026-11-01 --to 2026-11-15
    motcua report due                       what the timer runs: every scheduled report whose period has
                                            ended and that is not written yet

Settings: the hall and its ``[reports]`` table from the dispatcher's file (``--config``,
default /etc/motcua/dispatcher.toml). Files go to ``--out`` or the settings' folder, in a
sub-folder per period. Exit status: 0 done, 1 no database or the folder cannot be written, 2 bad usage, 78 bad settings.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from .records import HallInfo

EXIT_NO_DATABASE, EXIT_USAGE = 1, 2


def hall_info(settings) -> HallInfo:
    """Names for the report from the dispatcher's settings (and the pads' default reason labels)."""
    hall, extra = settings.hall, settings.reports
    reasons: dict[str, str] = {}
    indicators: dict[str, str] = {}
    try:  # the labels the pads show by default, when the pad package is installed beside us
        from satisfaction_pad.config import DEFAULT_INDICATORS, DEFAULT_REASONS, EARLIER_INDICATORS

        reasons = {c.code: c.label for c in DEFAULT_REASONS}
        indicators = {c.code: c.label for c in EARLIER_INDICATORS + DEFAULT_INDICATORS}
    except ImportError:
        pass
    return HallInfo(
        name=hall.name, site=settings.site, timezone=hall.timezone,
        areas={a.code: a.name for a in hall.areas},
        counters={c.number: c.display_name for c in hall.counters},
        officers={o.id: o.name for o in hall.officers},
        reasons={**reasons, **extra.reason_labels}, indicators={**indicators, **extra.indicator_labels},
    )


def _settings(args: argparse.Namespace):
    from dispatcher.config import DispatcherSettings
    from motcua.settings import load_settings

    return load_settings(DispatcherSettings, "dispatcher", args.config)


def _now(args: argparse.Namespace) -> datetime:
    if args.at:
        at = datetime.fromisoformat(args.at)
        return at if at.tzinfo else at.replace(tzinfo=timezone.utc)
    return datetime.now(timezone.utc)


def make_report(database: Path, period, hall, targets, now: datetime):
    from . import build, load_sqlite

    return build(load_sqlite(database, period, hall.site), period, hall, targets, generated_at=now)


def cmd_report(args: argparse.Namespace) -> int:
    from .sqlite import DatabaseError

    settings = _settings(args)
    now = _now(args)
    database = Path(args.database or settings.database)
    out = Path(args.out or settings.reports.folder)
    hall = hall_info(settings)

    def make(period):
        return make_report(database, period, hall, settings.reports.targets, now)

    try:
        return run_report(args, settings.reports, settings.hall.timezone, now, out, make)
    except DatabaseError as exc:
        print(f"motcua: {exc}", file=sys.stderr)
        return EXIT_NO_DATABASE


def run_report(args: argparse.Namespace, report_settings, tz: str, now: datetime, out: Path, make) -> int:
    """The period the arguments name (or every one that is due), ``make(period)`` its report, print and write it.

    Shared with the province's ``motcua province report``, whose records come from elsewhere."""
    if args.period == "due":
        return _due(args, report_settings, tz, out, now, make)
    try:
        period = choose_period(args, tz, report_settings.cutoff, now)
    except ValueError as exc:
        print(f"motcua: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not args.no_files:
        _preload(args.formats)
    report = make(period)
    from . import summary_text

    print(summary_text(report))
    if args.no_files:
        return 0
    paths = _write(report, out, args.formats)
    if paths is None:
        return EXIT_NO_DATABASE
    print(f"\nĐã ghi {len(paths)} tệp vào {paths[0].parent}:" if paths else "")
    for p in paths:
        print(f"  {p.name}")
    return 0


def choose_period(args: argparse.Namespace, tz: str, cutoff, now: datetime):
    """``--from``/``--to``, or a kind with ``--last`` / ``--date`` / now. ValueError says what is wrong."""
    from . import periods

    if args.date_from or args.date_to:
        if args.period or not (args.date_from and args.date_to):
            raise ValueError("give --from and --to together, without a period name")
        return periods.custom(date.fromisoformat(args.date_from), date.fromisoformat(args.date_to), tz).until(now)
    kind = args.period or "week"
    if args.last:
        return periods.last_complete(kind, now, tz, cutoff)
    if args.date:
        return periods.period_of(kind, date.fromisoformat(args.date), tz, cutoff).until(now)
    return periods.current(kind, now, tz, cutoff)


def _preload(formats: str) -> None:
    from . import preload

    preload(tuple(formats.split(",")))  # the writers import while the records are read


def _write(report, out: Path, formats: str) -> list[Path] | None:
    from . import write_all

    try:
        return write_all(report, out, tuple(formats.split(",")))
    except OSError as exc:
        print(f"motcua: cannot write the report into {out}: {exc.strerror or exc}", file=sys.stderr)
        return None


def _due(args, report_settings, tz: str, out: Path, now: datetime, make) -> int:
    """Write every scheduled report whose period has ended and which is not in the folder yet."""
    from . import periods
    from .labels import period_stem

    written = 0
    for kind in report_settings.scheduled:
        period = periods.last_complete(kind, now, tz, report_settings.cutoff)
        if (out / period.ident / f"{period_stem(period)}.xlsx").exists():
            continue
        _preload(args.formats)
        paths = _write(make(period), out, args.formats)
        if paths is None:
            return EXIT_NO_DATABASE
        written += 1
        print(f"{period.label}: {len(paths)} tệp trong {paths[0].parent}")
    if not written:
        print("Không có báo cáo nào đến hạn.")
    return 0


def add_period_arguments(sp: argparse.ArgumentParser) -> None:
    """The arguments that choose a period and where its files go (``motcua report``, ``motcua province report``)."""
    from .periods import KINDS

    sp.add_argument("period", nargs="?", choices=[*KINDS, "due"],
                    help="which period (default: week); 'due' writes what the timer would")
    sp.add_argument("--last", action="store_true", help="the last complete period instead of the current one")
    sp.add_argument("--date", help="the period that holds this local date (YYYY-MM-DD)")
    sp.add_argument("--from", dest="date_from", help="first local date of a period of your own (YYYY-MM-DD)")
    sp.add_argument("--to", dest="date_to", help="last local date, included")
    sp.add_argument("--out", help="folder for the files (default: the settings' reports.folder)")
    sp.add_argument("--formats", default="xlsx,pdf,csv,png", help="which files, comma separated")
    sp.add_argument("--no-files", action="store_true", help="print the summary only")
    sp.add_argument("--at", help=argparse.SUPPRESS)  # as if run at this time (tests, back-filling)


def register(subparsers) -> None:
    """Add ``report`` to the ``motcua`` command."""
    sp = subparsers.add_parser("report", help="the hall's reports: week, month, quarter, ... (XLSX, PDF, CSV, PNG)",
                               description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_period_arguments(sp)
    sp.add_argument("--config", help="the dispatcher's settings file (default /etc/motcua/dispatcher.toml)")
    sp.add_argument("--database", help="the dispatcher's database (default: the settings' database)")
    sp.set_defaults(func=cmd_report)
