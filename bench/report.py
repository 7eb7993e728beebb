"""A year's report of a busy hall: 1,500 tickets and 1,000 ratings a day, 10 counters, 20 officers.

The database is the dispatcher's own schema, filled directly (a year of commands through the
Hall would take far longer than the report). Timed: loading the year (and the year before, for
the comparison) read-only, computing every figure, and writing XLSX, PDF, CSV and PNG charts.
Goal: under 5 s on this machine. RSS is the peak of this process (rss_child_mb: of the PDF writer it forks).

    .venv/bin/python bench/report.py [--days 365] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import reports  # noqa: E402
from dispatcher.store import Store  # noqa: E402 - the dispatcher's schema is the contract

TZ = "Asia/Ho_Chi_Minh"
AREAS = ["TP", "DD", "XD", "KD", "NV", "LD", "NN", "VH"]
OFFICERS = [f"officer{i:02d}" for i in range(20)]
LEVELS = ["very_satisfied"] * 50 + ["satisfied"] * 32 + ["unsatisfied"] * 10 + ["not_rated"] * 8
REASONS = ["long_wait", "attitude", "unclear_guidance", "many_trips", "complex_procedure", "other"]


def iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


def fill(path: Path, first: date, days: int, tickets_a_day: int, ratings_a_day: int) -> tuple[int, int]:
    Store(path).close()  # the dispatcher's schema
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    rng = random.Random(2024)
    zone = ZoneInfo(TZ)
    n_tickets = n_ratings = 0
    for d in range(days):
        day = first + timedelta(days=d)
        opening = datetime(day.year, day.month, day.day, 7, 0, tzinfo=zone)
        tickets, transfers, ratings, done = [], [], [], []
        for i in range(tickets_a_day):
            area = AREAS[i % len(AREAS)]
            issued = opening + timedelta(seconds=rng.uniform(0, 9.5 * 3600))
            counter = 1 + i % 10
            officer = OFFICERS[(counter - 1) * 2 + (day.toordinal() % 2)]
            called = issued + timedelta(minutes=rng.expovariate(1 / 12))
            roll = rng.random()
            tid = f"{day:%Y%m%d}-{area}-{i}"
            status, finished, skipped = "done", called + timedelta(minutes=rng.uniform(2, 15)), None
            if roll < 0.05:
                status, finished, skipped = "expired", None, called + timedelta(minutes=2)
            elif roll < 0.07:
                status, finished, called = "cancelled", issued + timedelta(seconds=20), None
            elif roll < 0.10:
                transfers.append((tid + "-t", tid, iso(called + timedelta(minutes=3)), counter, officer, area,
                                  AREAS[(i + 1) % len(AREAS)], None, iso(called)))
                called += timedelta(minutes=10)
                finished = called + timedelta(minutes=5)
            tickets.append((tid, day.isoformat(), area, area, f"A{i}", None, status, i, counter if called else None,
                            officer if called else None, iso(issued), iso(called) if called else None,
                            iso(finished) if finished else None, iso(skipped) if skipped else None))
            if status == "done":
                done.append((tid, counter, officer, area, finished))
        for tid, counter, officer, area, finished in rng.sample(done, min(ratings_a_day, len(done))):
            level = rng.choice(LEVELS)
            reasons = rng.sample(REASONS, rng.randint(1, 2)) if level == "unsatisfied" else []
            rated = finished + timedelta(seconds=rng.uniform(3, 25))
            ratings.append((tid + "-r", tid, counter, officer, area, level, json.dumps(reasons), None, iso(rated),
                            f"pad-{counter}", iso(rated + timedelta(seconds=1))))
        db.executemany("INSERT INTO tickets(ticket_id, day, issue_area, area, number, priority, status, queue_pos, "
                       "counter, officer, issued_at, called_at, finished_at, skipped_at) "
                       "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", tickets)
        db.executemany("INSERT INTO transfers(command_id, ticket_id, at, counter, officer, from_area, to_area, "
                       "to_counter, called_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)", transfers)
        db.executemany("INSERT INTO ratings(rating_id, ticket_id, counter, officer, area, level, reasons, indicators, "
                       "rated_at, pad_id, received_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", ratings)
        n_tickets += len(tickets)
        n_ratings += len(ratings)
    db.commit()
    db.close()
    return n_tickets, n_ratings


def cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the forked PDF writer)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--tickets", type=int, default=1500)
    ap.add_argument("--ratings", type=int, default=1000)
    ap.add_argument("--keep", help="keep the database and the report in this folder")
    ap.add_argument("--reuse", action="store_true", help="with --keep: report on the database already there")
    args = ap.parse_args()
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="motcua-bench-report-"))
    work.mkdir(parents=True, exist_ok=True)
    database = work / "dispatcher.db"
    t0 = time.perf_counter()
    if args.reuse and database.is_file():
        with sqlite3.connect(database) as db:
            n_tickets, n_ratings = (db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("tickets", "ratings"))
    else:
        database.unlink(missing_ok=True)
        n_tickets, n_ratings = fill(database, date(2025, 1, 1), args.days, args.tickets, args.ratings)
    print(f"database: {n_tickets:,} tickets, {n_ratings:,} ratings over {args.days} days "
          f"(ready in {time.perf_counter() - t0:.1f} s)")
    hall = reports.HallInfo(name="Trung tâm Phục vụ hành chính công (bench)", timezone=TZ,
                            areas={a: a for a in AREAS}, counters={n: f"Quầy {n}" for n in range(1, 11)},
                            officers={o: o for o in OFFICERS})
    period = reports.period_of("year", date(2025, 6, 1), TZ)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    c0, t0 = cpu(), time.perf_counter()
    reports.preload()  # as `motcua report` does: the writers import while the database is read
    records = reports.load_sqlite(database, period)
    t1, c1 = time.perf_counter(), cpu()
    report = reports.build(records, period, hall)
    t2, c2 = time.perf_counter(), cpu()
    paths = reports.write_all(report, work / "reports")
    t3, c3 = time.perf_counter(), cpu()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    figures = {"tickets": n_tickets, "ratings": n_ratings, "load_s": round(t1 - t0, 2), "build_s": round(t2 - t1, 2),
               "write_s": round(t3 - t2, 2), "total_s": round(t3 - t0, 2), "cpu_s": round(c3 - c0, 2),
               # CPU per step, of this process and the writer it forks (the loader reads on two threads
               # and the PDF is drawn in a child: a step's CPU can exceed its wall time)
               "load_cpu_s": round(c1 - c0, 2), "build_cpu_s": round(c2 - c1, 2), "write_cpu_s": round(c3 - c2, 2),
               "load_average_1min": round(os.getloadavg()[0], 2), "files": len(paths),
               "rss_mb": round(rss, 1), "rss_child_mb": round(rss_child, 1), "rss_before_mb": round(rss_before, 1), "goal_s": 5.0}
    print(f"year report: load {figures['load_s']} s, figures {figures['build_s']} s, "
          f"files {figures['write_s']} s ({len(paths)} files) = {figures['total_s']} s (goal < 5 s); "
          f"CPU {figures['cpu_s']} s (a shared machine's wall time can be much longer)")
    print(f"served {report.total.served:,}, satisfied {report.total.satisfied_pct}%, "
          f"median wait {report.total.wait.median} min; peak RSS {figures['rss_mb']} MiB")
    print(json.dumps(figures))
    return 0 if figures["total_s"] < figures["goal_s"] else 1


if __name__ == "__main__":
    sys.exit(main())
