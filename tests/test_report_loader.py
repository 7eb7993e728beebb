"""The SQLite loader reads what the dispatcher stored, whatever its keys look like.

The loader reads rows as fixed-width text; keys longer than its first width or not ASCII (an
officer's Vietnamese name used as a login) make it read again with keys as hex. Either way the
report is the one the plain records give.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

import numpy as np

import reports
from bench.report import AREAS, TZ, fill
from reports.labels import COLUMNS
from reports.sqlite import load_records


def _lines(report):
    return [(g, f.key, [get(f) for _, _, get in COLUMNS], f.reasons)
            for g, fs in [("hall", [report.total])] + list(report.groups.items()) for f in fs]


def _both(db, period, hall):
    from_db = reports.build(reports.load_sqlite(db, period), period, hall)
    records = load_records(db, period.previous().start, period.end)
    return from_db, reports.build(records, period, hall)


def test_long_and_vietnamese_keys_count_as_the_records_do(tmp_path):
    db = tmp_path / "dispatcher.db"
    fill(db, date(2025, 3, 1), 4, 120, 80)
    with sqlite3.connect(db) as c:
        for table in ("tickets", "ratings", "transfers"):
            c.execute(f"UPDATE {table} SET officer = 'Nguyễn Thị Ánh Tuyết' WHERE officer = 'officer03'")
            c.execute(f"UPDATE {table} SET officer = 'a-rather-long-officer-login-01' WHERE officer = 'officer01'")
        c.execute("UPDATE tickets SET area = 'Đất đai và môi trường' WHERE area = 'DD'")
        c.execute("UPDATE ratings SET area = 'Đất đai và môi trường' WHERE area = 'DD'")
        c.execute("""UPDATE ratings SET reasons = '["Chờ quá lâu, không ai hướng dẫn", "long_wait"]' """
                  "WHERE reasons LIKE '%attitude%'")
    hall = reports.HallInfo(name="Trung tâm", timezone=TZ, areas={a: a for a in AREAS})
    period = reports.period_of("week", date(2025, 3, 3), TZ)
    from_db, from_records = _both(db, period, hall)
    assert _lines(from_db) == _lines(from_records)
    officers = {f.key for f in from_db.groups["officer"]}
    assert {"Nguyễn Thị Ánh Tuyết", "a-rather-long-officer-login-01", "officer00"} <= officers
    assert from_db.total.reasons["Chờ quá lâu, không ai hướng dẫn"] > 0
    assert from_db.total.served > 0 and from_db.total.rated > 0


def test_short_ascii_keys_count_as_the_records_do(tmp_path):
    db = tmp_path / "dispatcher.db"
    fill(db, date(2025, 3, 1), 4, 120, 80)
    hall = reports.HallInfo(name="Trung tâm", timezone=TZ, areas={a: a for a in AREAS})
    period = reports.period_of("week", date(2025, 3, 3), TZ)
    from_db, from_records = _both(db, period, hall)
    assert _lines(from_db) == _lines(from_records)


def test_a_rating_delivered_days_late_knows_when_its_ticket_was_served(tmp_path):
    # the ticket is older than the tickets a report reads; its finish still comes from the database
    db = tmp_path / "dispatcher.db"
    fill(db, date(2025, 2, 20), 20, 60, 40)
    with sqlite3.connect(db) as c:
        rating_id, finished = c.execute(
            "SELECT r.rating_id, t.finished_at FROM ratings r JOIN tickets t ON t.ticket_id = r.ticket_id "
            "WHERE t.day = '2025-02-22' LIMIT 1").fetchone()
        c.execute("UPDATE ratings SET rated_at = '2025-02-21T03:00:00+00:00', received_at = '2025-03-12T03:00:00+00:00' "
                  "WHERE rating_id = ?", (rating_id,))
    period = reports.period_of("week", date(2025, 3, 10), TZ)
    frame = reports.load_sqlite(db, period)
    records = load_records(db, period.previous().start, period.end)
    late = [r for r in records.ratings if r.rating_id == rating_id]
    assert late and late[0].served_at == datetime.fromisoformat(finished)
    # every rating's ticket finish as the plain records know it (to the second: SQLite reads times to the ms)
    by_db = np.sort(np.nan_to_num(frame.r_served, nan=-1))
    by_records = np.sort(np.nan_to_num(reports.Frame.from_records(records).r_served, nan=-1))
    assert len(by_db) == len(by_records) and np.abs(by_db - by_records).max() <= 1
    assert datetime.fromisoformat(finished).timestamp() // 1 in frame.r_served.tolist()


def test_read_in_small_pieces_counts_as_the_records_do(tmp_path, monkeypatch):
    # a year is read a month of days and 40,000 ratings at a time; here pieces of 2 days and 7 rows
    import reports.sqlite

    db = tmp_path / "dispatcher.db"
    fill(db, date(2025, 2, 24), 9, 60, 40)
    with sqlite3.connect(db) as c:  # and a rating whose row comes before the others of its time
        c.execute("UPDATE ratings SET received_at = '2025-03-05T03:00:00+00:00' WHERE rowid = 3")
    monkeypatch.setattr(reports.sqlite, "CHUNK_DAYS", 2)
    monkeypatch.setattr(reports.sqlite, "CHUNK_ROWS", 7)
    hall = reports.HallInfo(name="Trung tâm", timezone=TZ, areas={a: a for a in AREAS})
    period = reports.period_of("week", date(2025, 3, 3), TZ)
    from_db, from_records = _both(db, period, hall)
    assert _lines(from_db) == _lines(from_records)
    assert from_db.total.issued > 0 and from_db.total.previous.issued > 0 and from_db.total.reasons


def test_the_waits_sorted_on_a_thread_of_their_own_give_the_same_figures(tmp_path, monkeypatch):
    import reports.core

    db = tmp_path / "dispatcher.db"
    fill(db, date(2025, 2, 24), 9, 60, 40)
    hall = reports.HallInfo(name="Trung tâm", timezone=TZ, areas={a: a for a in AREAS})
    period = reports.period_of("week", date(2025, 3, 3), TZ)
    frame = reports.load_sqlite(db, period)
    monkeypatch.setattr(reports.core, "BESIDE_ROWS", 1)
    beside = reports.build(frame, period, hall)
    monkeypatch.setattr(reports.core, "BESIDE_ROWS", 10**12)
    serial = reports.build(frame, period, hall)
    assert _lines(beside) == _lines(serial) and beside.hours == serial.hours and beside.days == serial.days
    assert beside.total.wait.count > 0
