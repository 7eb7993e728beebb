"""The SQLite loader reads what the dispatcher stored, whatever its keys look like.

The loader reads rows as fixed-width text; keys longer than its first width or not ASCII (an
officer's Vietnamese name used as a login) make it read again with keys as hex. Either way the
report is the one the plain records give.
"""

from __future__ import annotations

import sqlite3
from datetime import date

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
    hall = reports.HallInfo(name="Trung tâm", timezone=TZ, areas={a: a for a in AREAS})
    period = reports.period_of("week", date(2025, 3, 3), TZ)
    from_db, from_records = _both(db, period, hall)
    assert _lines(from_db) == _lines(from_records)
    officers = {f.key for f in from_db.groups["officer"]}
    assert {"Nguyễn Thị Ánh Tuyết", "a-rather-long-officer-login-01", "officer00"} <= officers
    assert from_db.total.served > 0 and from_db.total.rated > 0


def test_short_ascii_keys_count_as_the_records_do(tmp_path):
    db = tmp_path / "dispatcher.db"
    fill(db, date(2025, 3, 1), 4, 120, 80)
    hall = reports.HallInfo(name="Trung tâm", timezone=TZ, areas={a: a for a in AREAS})
    period = reports.period_of("week", date(2025, 3, 3), TZ)
    from_db, from_records = _both(db, period, hall)
    assert _lines(from_db) == _lines(from_records)
