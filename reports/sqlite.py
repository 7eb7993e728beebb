"""Records from the dispatcher's SQLite database, opened read-only.

The dispatcher's schema (``dispatcher/store.py``) is the contract; this module
reads it with SQL and imports nothing of the dispatcher. Read-only means the
report can run beside a working dispatcher (WAL: readers never block it) and
can never change what it reads.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np

from .frame import LEVELS, STATUSES, Frame
from .records import RatingRecord, Records, TicketRecord, TransferRecord

MARGIN = timedelta(days=2)  # a ticket's events all fall within a day or so of its issue


class DatabaseError(Exception):
    """The database is missing or is not a dispatcher's."""


def connect(database: Path | str) -> sqlite3.Connection:
    path = Path(database)
    if not path.is_file():
        raise DatabaseError(f"no dispatcher database at {path}")
    db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as exc:
        db.close()
        raise DatabaseError(f"{path} is not a readable SQLite database: {exc}") from None
    if not {"tickets", "ratings"} <= tables:
        db.close()
        raise DatabaseError(f"{path} is not a dispatcher database (no tickets and ratings tables)")
    return db


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat()


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def load(database: Path | str, start: datetime, end: datetime, site: str = "") -> Frame:
    """Every ticket, transfer and rating that may fall in ``[start, end)`` (and a little more), as columns."""
    db = connect(database)
    try:
        return _load(db, start, end, site)
    finally:
        db.close()


def load_records(database: Path | str, start: datetime, end: datetime, site: str = "") -> Records:
    """The same, as plain records (slower; for callers that want to look at them one by one)."""
    db = connect(database)
    try:
        return _load_records(db, start, end, site)
    finally:
        db.close()


def _epoch(column: str) -> str:
    # SQLite parses the stored ISO times (with their offset) in C; -1e18 stands for NULL
    return f"IFNULL((julianday({column}) - 2440587.5) * 86400.0, -1e18)"


def _times(values) -> np.ndarray:
    arr = np.round(np.asarray(values, dtype=np.float64), 3)
    arr[arr < -1e17] = np.nan
    return arr


def _load(db: sqlite3.Connection, start: datetime, end: datetime, site: str) -> Frame:
    lo, hi = start - MARGIN, end + MARGIN
    f = Frame(sites={site})
    rows = db.execute(
        f"SELECT {_epoch('issued_at')}, {_epoch('called_at')}, {_epoch('finished_at')}, {_epoch('skipped_at')}, "
        "status, issue_area, area, counter, officer, ticket_id FROM tickets WHERE day >= ? AND day <= ?",
        (lo.date().isoformat(), hi.date().isoformat())).fetchall()
    cols = list(zip(*rows)) if rows else [()] * 10
    f.issued, f.called, f.finished, f.skipped = (_times(c) for c in cols[:4])
    status = {s: i for i, s in enumerate(STATUSES)}
    f.status = np.fromiter((status.get(v, 0) for v in cols[4]), dtype=np.int8, count=len(rows))
    f.issue_area, f.area = f.areas.codes(cols[5]), f.areas.codes(cols[6])
    f.counter, f.officer = f.counters.codes(cols[7]), f.officers.codes(cols[8])
    ids = cols[9]

    has_table = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'transfers'").fetchone()
    xs: list[tuple] = []
    if has_table:
        xs = db.execute(f"SELECT {_epoch('at')}, {_epoch('called_at')}, counter, officer, from_area, ticket_id "
                        "FROM transfers WHERE at >= ? AND at < ?", (_iso(lo), _iso(hi))).fetchall()
    xs += [(round(x.at.timestamp(), 3), -1e18, x.counter, x.officer, None, None)
           for x in _logged_transfers(db, lo, hi, site, bool(has_table))]
    xcols = list(zip(*xs)) if xs else [()] * 6
    f.x_at, f.x_called = _times(xcols[0]), _times(xcols[1])
    f.x_counter, f.x_officer, f.x_area = f.counters.codes(xcols[2]), f.officers.codes(xcols[3]), f.areas.codes(xcols[4])
    if xs:
        row_of = {tid: i for i, tid in enumerate(ids)}
        f.x_ticket = np.fromiter((row_of.get(t, -1) for t in xcols[5]), dtype=np.int64, count=len(xs))
    else:
        f.x_ticket = np.zeros(0, dtype=np.int64)

    rs = db.execute(
        f"SELECT {_epoch('r.rated_at')}, {_epoch('r.received_at')}, {_epoch('t.finished_at')}, r.level, r.counter, "
        "r.officer, r.area, r.reasons, r.indicators FROM ratings r LEFT JOIN tickets t ON t.ticket_id = r.ticket_id "
        "WHERE r.received_at >= ? AND (r.rated_at < ? OR r.received_at < ?)",
        (_iso(start - timedelta(days=1)), _iso(end + timedelta(days=1)), _iso(end + timedelta(days=1)))).fetchall()
    rcols = list(zip(*rs)) if rs else [()] * 9
    f.r_rated, f.r_received, f.r_served = (_times(c) for c in rcols[:3])
    level = {s: i for i, s in enumerate(LEVELS)}
    f.r_level = np.fromiter((level.get(v, -1) for v in rcols[3]), dtype=np.int8, count=len(rs))
    f.r_counter, f.r_officer, f.r_area = (f.counters.codes(rcols[4]), f.officers.codes(rcols[5]),
                                          f.areas.codes(rcols[6]))
    f.r_reasons = [tuple(json.loads(v)) if v and v != "[]" else () for v in rcols[7]]
    f.r_indicators = [json.loads(v) if v else None for v in rcols[8]]
    return f


def _load_records(db: sqlite3.Connection, start: datetime, end: datetime, site: str) -> Records:
    lo, hi = start - MARGIN, end + MARGIN
    p = datetime.fromisoformat
    tickets = [
        TicketRecord(tid, p(issued), issue_area, area, status, counter, officer, p(called) if called else None,
                     p(finished) if finished else None, p(skipped) if skipped else None, priority, site)
        for tid, issued, issue_area, area, status, counter, officer, called, finished, skipped, priority in db.execute(
            "SELECT ticket_id, issued_at, issue_area, area, status, counter, officer, called_at, finished_at, "
            "skipped_at, priority FROM tickets WHERE day >= ? AND day <= ?",
            (lo.date().isoformat(), hi.date().isoformat()))
    ]
    has_transfers = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'transfers'").fetchone()
    transfers: list[TransferRecord] = []
    if has_transfers:
        transfers = [
            TransferRecord(p(at), counter, officer, from_area, tid, _dt(called), to_area, to_counter, site)
            for tid, at, counter, officer, from_area, to_area, to_counter, called in db.execute(
                "SELECT ticket_id, at, counter, officer, from_area, to_area, to_counter, called_at FROM transfers "
                "WHERE at >= ? AND at < ?", (_iso(lo), _iso(hi)))
        ]
    transfers += _logged_transfers(db, lo, hi, site, bool(has_transfers))
    ratings = []
    for rid, tid, counter, officer, area, level, reasons, indicators, rated, received, served in db.execute(
            "SELECT r.rating_id, r.ticket_id, r.counter, r.officer, r.area, r.level, r.reasons, r.indicators, "
            "r.rated_at, r.received_at, t.finished_at FROM ratings r LEFT JOIN tickets t ON t.ticket_id = r.ticket_id "
            "WHERE r.received_at >= ? AND (r.rated_at < ? OR r.received_at < ?)",
            (_iso(start - timedelta(days=1)), _iso(end + timedelta(days=1)), _iso(end + timedelta(days=1)))):
        ratings.append(RatingRecord(
            p(rated), p(received), level, counter, officer, area, tid, _dt(served),
            tuple(json.loads(reasons)) if reasons else (), json.loads(indicators) if indicators else None, rid, site))
    return Records(tickets, ratings, transfers)


def _logged_transfers(db: sqlite3.Connection, lo: datetime, hi: datetime, site: str,
                      has_table: bool) -> list[TransferRecord]:
    """Transfers made before the dispatcher kept a transfers table: known from its command log
    (time, counter, officer), though not which ticket or area."""
    sql = ("SELECT command_id, kind, reply, applied_at FROM commands WHERE kind LIKE 'counter.%.transfer' "
           "AND applied_at >= ? AND applied_at < ?")
    if has_table:
        sql += " AND command_id NOT IN (SELECT command_id FROM transfers)"
    out = []
    try:
        rows = db.execute(sql, (_iso(lo), _iso(hi))).fetchall()
    except sqlite3.OperationalError:  # no command log either
        return out
    for _, kind, reply, applied in rows:
        try:
            body = json.loads(reply)
            counter = int(kind.split(".")[1])
        except (ValueError, IndexError):
            continue
        if body.get("ok"):
            officer = (body.get("counter") or {}).get("officer")
            out.append(TransferRecord(datetime.fromisoformat(applied), counter, officer, site=site))
    return out
