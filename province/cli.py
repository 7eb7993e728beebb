"""The province's subcommands of ``motcua``:

    motcua province status [--config FILE]     every hall: link, last event, today's tickets and ratings

Settings are the collector's (``/etc/motcua/province-collector.toml`` by default):
the command reads the same database.
"""

from __future__ import annotations

import argparse
import sys


def _settings(args: argparse.Namespace):
    from motcua.settings import load_settings

    from .config import CollectorSettings

    return load_settings(CollectorSettings, "province-collector", args.config)


STATUS_SQL = """
SELECT s.site,
       (SELECT availability FROM devices d WHERE d.site = s.site AND d.device_id = 'bridge') AS link,
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
    print(f"{'hall':<24} {'link':<8} {'last event (UTC)':<20} {'tickets':>8} {'served':>7} {'rated':>6} {'satisfied':>9}")
    for site, link, last, tickets, served, rated, good in rows:
        pct = f"{100 * good / rated:.1f}%" if rated else "-"
        when = last.strftime("%Y-%m-%d %H:%M:%S") if last else "-"
        print(f"{site:<24} {link or '?':<8} {when:<20} {tickets:>8} {served:>7} {rated:>6} {pct:>9}")
    print(f"{len(rows)} halls, day {day.isoformat()}")
    return 0


def register(subparsers) -> None:
    """Add ``province`` to the ``motcua`` command."""
    sp = subparsers.add_parser("province", help="the province's picture of every hall (collector database)")
    sub = sp.add_subparsers(dest="province_command", required=True)
    st = sub.add_parser("status", help="every hall: link, last event, today's tickets and ratings")
    st.add_argument("--config", help="collector settings (default /etc/motcua/province-collector.toml)")
    st.add_argument("--timezone", default="Asia/Ho_Chi_Minh", help="whose 'today'")
    st.add_argument("--day", help="the service day YYYY-MM-DD (default today)")
    st.set_defaults(func=cmd_status)
