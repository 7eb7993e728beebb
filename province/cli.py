"""The province's subcommands of ``motcua``:

    motcua province status [--config FILE]     every hall: link, last event, today's tickets and ratings
    motcua province report [week|month|…|due] [--last] [--date D] [--site S …] [--each]
                                               the leadership reports over every hall (or some), and per hall

Settings are the collector's (``/etc/motcua/province-collector.toml`` by default):
the command reads the same database.
"""

from __future__ import annotations

import argparse
import sys

# at load time, not in register(): on a box without the reports' libraries (numpy; every box but the
# central one) loading this module fails, and `motcua` leaves the province command out (motcua/cli.py)
from reports.cli import add_period_arguments


def _settings(args: argparse.Namespace):
    from motcua.settings import load_settings

    from .config import CollectorSettings

    return load_settings(CollectorSettings, "province-collector", args.config)


STATUS_SQL = """
SELECT s.site,
       (SELECT availability FROM devices d WHERE d.site = s.site AND d.device_id = 'bridge') AS link,
       (SELECT count(*) FROM devices d WHERE d.site = s.site AND d.device_id != 'bridge'
                                         AND d.availability = 'online') AS boxes_up,
       (SELECT count(*) FROM devices d WHERE d.site = s.site AND d.device_id != 'bridge') AS boxes,
       (SELECT max(at) FROM events e WHERE e.site = s.site) AS last_event,
       (SELECT count(*) FROM ticket_outcomes o WHERE o.site = s.site AND o.day = %(day)s) AS tickets,
       (SELECT count(*) FROM ticket_outcomes o WHERE o.site = s.site AND o.day = %(day)s AND o.outcome = 'done') AS served,
       (SELECT count(*) FROM ratings r WHERE r.site = s.site AND r.service_day = %(day)s
                                         AND r.level != 'not_rated') AS rated,
       (SELECT count(*) FROM ratings r WHERE r.site = s.site AND r.service_day = %(day)s
                                         AND r.level IN ('very_satisfied', 'satisfied')) AS satisfied
FROM (SELECT site FROM devices UNION SELECT DISTINCT site FROM events) s
ORDER BY s.site
"""


def cmd_status(args: argparse.Namespace) -> int:
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    import psycopg

    settings = _settings(args)
    day = date.fromisoformat(args.day) if args.day else datetime.now(ZoneInfo(args.timezone)).date()
    try:
        with psycopg.connect(**settings.database.conninfo()) as db:
            rows = db.execute(STATUS_SQL, {"day": day}).fetchall()
    except psycopg.Error as exc:
        print(f"motcua: database unreachable: {str(exc).strip()}", file=sys.stderr)
        return 69  # EX_UNAVAILABLE
    print(f"{'hall':<24} {'link':<8} {'boxes up':>9} {'last event (UTC)':<20} {'tickets':>8} {'served':>7} "
          f"{'rated':>6} {'satisfied':>9}")
    for site, link, up, boxes, last, tickets, served, rated, good in rows:
        pct = f"{100 * good / rated:.1f}%" if rated else "-"
        when = last.strftime("%Y-%m-%d %H:%M:%S") if last else "-"
        print(f"{site:<24} {link or '?':<8} {f'{up}/{boxes}':>9} {when:<20} {tickets:>8} {served:>7} {rated:>6} "
              f"{pct:>9}")
    print(f"{len(rows)} halls, day {day.isoformat()}")
    return 0


def province_info(settings, site: str | None = None):
    from reports import HallInfo

    if site is not None:
        return HallInfo(name=settings.hall_names.get(site, site), site=site, timezone=settings.timezone)
    return HallInfo(name=settings.name, timezone=settings.timezone)


def cmd_report(args: argparse.Namespace) -> int:
    """The hall reports' own command, over the province's database: one report for the chosen halls
    (all by default) and, with ``--each`` or for ``due``, one per hall in a folder of its own."""
    from pathlib import Path

    import psycopg

    from reports import build
    from reports.cli import _now, run_report

    from .report_source import load_records

    settings = _settings(args)
    now = _now(args)
    out = Path(args.out or settings.reports.folder)
    try:
        db = psycopg.connect(**settings.database.conninfo())
    except psycopg.Error as exc:
        print(f"motcua: database unreachable: {str(exc).strip()}", file=sys.stderr)
        return 69  # EX_UNAVAILABLE
    with db:
        chosen = args.site or None
        halls = chosen or [r[0] for r in db.execute("SELECT DISTINCT site FROM ticket_outcomes ORDER BY site")]

        def maker(sites, info):
            return lambda period: build(load_records(db, period.previous().start, period.end, sites), period, info,
                                        settings.reports.targets, generated_at=now)

        one = chosen[0] if chosen and len(chosen) == 1 else None  # one hall picked: its report bears its name
        rc = run_report(args, settings.reports, settings.timezone, now, out, maker(chosen, province_info(settings, one)))
        if rc == 0 and (args.each or args.period == "due"):
            for site in halls:
                rc = run_report(args, settings.reports, settings.timezone, now, out / site,
                                maker([site], province_info(settings, site))) or rc
    return rc


def register(subparsers) -> None:
    """Add ``province`` to the ``motcua`` command."""
    sp = subparsers.add_parser("province", help="the province's picture of every hall (collector database)")
    sub = sp.add_subparsers(dest="province_command", required=True)
    st = sub.add_parser("status", help="every hall: link, boxes online, last event, today's tickets and ratings")
    st.add_argument("--config", help="collector settings (default /etc/motcua/province-collector.toml)")
    st.add_argument("--timezone", default="Asia/Ho_Chi_Minh", help="whose 'today'")
    st.add_argument("--day", help="the service day YYYY-MM-DD (default today)")
    st.set_defaults(func=cmd_status)

    rp = sub.add_parser("report", help="the leadership reports over every hall, and per hall (XLSX, PDF, CSV, PNG)")
    add_period_arguments(rp)
    rp.add_argument("--config", help="collector settings (default /etc/motcua/province-collector.toml)")
    rp.add_argument("--site", action="append", help="only this hall (repeat for several)")
    rp.add_argument("--each", action="store_true", help="also one report per hall, in a folder of its own")
    rp.set_defaults(func=cmd_report)
