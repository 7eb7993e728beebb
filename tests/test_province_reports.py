"""Province-wide reports are the hall reports' own code over the collector's PostgreSQL rows.

Three halls play four days of a week on the real dispatcher (Hall + SQLite, a seeded random day after day:
tickets, calls, no-shows, transfers, withdrawn tickets, ratings, the daily reset). What each hall
publishes up (its outbox) is stored the way the collector stores it. Then, for the reporting week:
the province's report of each hall equals that hall's own report, figure for figure, and the
province's report of all three adds up to the sum of the three.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
from datetime import date, timedelta

import psycopg
import pytest

import reports
from dispatcher.hall import Hall
from motcua.protocol import Rating, Topics, new_id
from province.records import parse
from province.report_source import load_records
from province.store import ensure_schema, write_batch
from provincekit import unique_db

from hallfactory import HallDriver, local, make_settings

TZ = "Asia/Ho_Chi_Minh"
SITES = ("xa-an-binh", "phuong-1", "xa-long-phuoc")
FIRST = date(2024, 5, 27)  # a Monday
COUNTS = ("issued", "called", "served", "no_shows", "cancelled", "transferred", "not_served", "very_satisfied",
          "satisfied", "unsatisfied", "not_rated")


def hall_info(site: str) -> reports.HallInfo:
    return reports.HallInfo(name=f"Trung tâm {site}", site=site, timezone=TZ)


def play_week(d: HallDriver, seed: int) -> None:
    """Four service days of a small hall, then the Monday reset that expires what was left."""
    rnd = random.Random(seed)
    c = d.clock
    for day in range(4):
        c.set(local(2024, 5, 27, 7, 30) + timedelta(days=day))
        for n in (1, 2, 3):
            d.open(n)
        for minute in range(0, 8 * 60, 5):
            c.set(local(2024, 5, 27, 8, 0) + timedelta(days=day, minutes=minute, seconds=rnd.randint(0, 200)))
            if rnd.random() < 0.7:
                t = d.ticket(rnd.choice(["TP", "TP", "DD"]))
                if rnd.random() < 0.04:
                    assert d.cancel(t.ticket_id).reply.ok
            counter = rnd.choice([1, 2, 3])
            state = d.hall.counter_state(counter)
            roll = rnd.random()
            if state.current is None:
                d.cmd(counter, "next")
            elif roll < 0.08:
                d.cmd(counter, "skip")
            elif roll < 0.13 and counter != 3:
                d.cmd(counter, "transfer", to_area="DD")
            elif roll < 0.75:
                out = d.cmd(counter, "finish")
                window = out.reply.counter.rating_window if out.reply.ok else None
                if window is not None and rnd.random() < 0.7:
                    level = rnd.choice(["very_satisfied", "satisfied", "satisfied", "unsatisfied", "not_rated"])
                    reasons = ["long_wait"] if level == "unsatisfied" else []
                    assert d.hall.rate(counter, Rating(
                        rating_id=new_id(), counter=counter, ticket_id=window.ticket_id, level=level,
                        reasons=reasons, rated_at=c()), sender=f"pad-{counter}").reply.ok
    c.set(local(2024, 6, 3, 5, 0))  # Monday after the reset: the week's leftovers expire
    d.hall.tick()


@pytest.fixture(scope="module")
def province(tmp_path_factory, postgres):
    """Three halls' SQLite files, and a province database holding what they published."""
    dsn = unique_db(postgres)
    halls = {}
    with psycopg.connect(dsn, autocommit=True) as db:
        ensure_schema(db)
        for i, site in enumerate(SITES):
            d = HallDriver(tmp_path_factory.mktemp(site) / "dispatcher.db", make_settings())
            d.topics = Topics(site)
            # the rate limits count the simulated time, as they would count a real week's
            d.hall = Hall(d.settings, d.store, d.topics, clock=d.clock, monotonic=lambda d=d: d.clock().timestamp())
            play_week(d, seed=i)
            box = d.store.outbox()
            # what the collector stores, twice over: a redelivery changes nothing
            write_batch(db, [parse(r["topic"], bytes(r["payload"])) for r in box])
            write_batch(db, [parse(r["topic"], bytes(r["payload"])) for r in box[::7]])
            halls[site] = d.db_path
            d.close()
    return dsn, halls


def test_each_halls_report_at_the_province_is_its_own_report_and_the_province_is_their_sum(province):
    dsn, halls = province
    period = reports.period_of("week", FIRST, TZ)
    own = {site: reports.build(reports.load_sqlite(path, period, site=site), period, hall_info(site),
                               generated_at=period.end) for site, path in halls.items()}
    with psycopg.connect(dsn) as db:
        at_province = {site: reports.build(load_records(db, period.previous().start, period.end, [site]), period,
                                           hall_info(site), generated_at=period.end) for site in SITES}
        whole = reports.build(load_records(db, period.previous().start, period.end), period,
                              reports.HallInfo(name="Tỉnh thử nghiệm", timezone=TZ), generated_at=period.end)
    for site in SITES:
        assert own[site].total.served > 50  # a real week, not an empty one
        assert dataclasses.asdict(at_province[site].total) == dataclasses.asdict(own[site].total), site
        assert at_province[site].groups == own[site].groups, site
        assert at_province[site].days == own[site].days, site
    for name in COUNTS:
        assert getattr(whole.total, name) == sum(getattr(own[s].total, name) for s in SITES), name
    assert whole.total.wait.count == sum(own[s].total.wait.count for s in SITES)
    assert whole.total.reasons == {"long_wait": sum(own[s].total.reasons.get("long_wait", 0) for s in SITES)}
    good = sum(own[s].total.very_satisfied + own[s].total.satisfied for s in SITES)
    assert whole.total.satisfied_pct == round(100 * good / sum(own[s].total.rated for s in SITES), 1)


def province_report(dsn: str, out, *options: str) -> subprocess.CompletedProcess:
    """``motcua province report week`` for the first week, as the province's technician runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_")}
    env.update(MOTCUA_DEVICE_ID="collector-1", MOTCUA_DATABASE__DSN=dsn, MOTCUA_NAME="Tỉnh thử nghiệm",
               MOTCUA_HALL_NAMES=json.dumps({"phuong-1": "Trung tâm Phục vụ hành chính công phường 1"}))
    run = subprocess.run([sys.executable, "-m", "motcua.cli", "province", "report", "week", "--date",
                          FIRST.isoformat(), "--out", str(out), *options],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    return run


def test_motcua_province_report_writes_the_province_and_each_hall(province, tmp_path):
    dsn, _ = province
    run = province_report(dsn, tmp_path, "--each", "--formats", "xlsx,csv")
    assert "Tỉnh thử nghiệm" in run.stdout and "phường 1" in run.stdout
    written = sorted(p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*.xlsx"))
    assert len(written) == 4 and set(SITES) <= set(written)  # the province's, then one per hall


def test_a_report_for_one_hall_picked_at_the_province_bears_the_halls_name(province, tmp_path):
    dsn, _ = province
    run = province_report(dsn, tmp_path, "--site", "phuong-1", "--formats", "csv")
    assert "phường 1" in run.stdout and "Tỉnh thử nghiệm" not in run.stdout
