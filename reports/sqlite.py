"""Records from the dispatcher's SQLite database, opened read-only.

The dispatcher's schema (``dispatcher/store.py``) is the contract; this module
reads it with SQL and imports nothing of the dispatcher. Read-only means the
report can run beside a working dispatcher (WAL: readers never block it) and
can never change what it reads.
"""

from __future__ import annotations

import json
import sqlite3
import threading
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
        return _load(db, start, end, site, Path(database))
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
    # SQLite parses the stored ISO times (with their offset) in C: whole seconds since the epoch, -1 for NULL.
    # Whole seconds, floored: a period's bounds are whole seconds, so no event changes period.
    return f"IFNULL(unixepoch({column}), -1)"


def _times(column: np.ndarray) -> np.ndarray:
    arr = column.astype(np.float64)
    arr[column < 0] = np.nan
    return arr


def _case(column: str, keys: list) -> tuple[str, list]:
    """SQL giving the code of ``column``'s value in ``keys`` (-1 for NULL), so rows come back as integers."""
    if not keys:
        return "-1", []
    return f"CASE {column} " + " ".join("WHEN ? THEN ?" for _ in keys) + " ELSE -1 END", \
        [v for i, k in enumerate(keys) for v in (k, i)]


def _ints(rows: list, width: int) -> np.ndarray:
    return np.array(rows, dtype=np.int64).reshape(-1, width)


def _fetch_all(database: Path, queries: list[tuple[str, tuple]]) -> list[list]:
    """Run read-only queries at once, each on its own connection: SQLite works without the GIL,
    so a year's tickets and ratings are read side by side on two cores."""
    results: list = [None] * len(queries)
    errors: list[BaseException] = []

    def run(i: int, sql: str, args: tuple) -> None:
        try:
            db = sqlite3.connect(database.resolve().as_uri() + "?mode=ro", uri=True)
            try:
                results[i] = db.execute(sql, args).fetchall()
            finally:
                db.close()
        except BaseException as exc:  # noqa: BLE001 - raised again below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, *q), name="motcua-report-read") for i, q in enumerate(queries)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def _load(db: sqlite3.Connection, start: datetime, end: datetime, site: str, database: Path) -> Frame:
    lo, hi = start - MARGIN, end + MARGIN
    days = (lo.date().isoformat(), hi.date().isoformat())
    r_range = (_iso(start - timedelta(days=1)), _iso(end + timedelta(days=1)), _iso(end + timedelta(days=1)))
    has_table = bool(db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'transfers'").fetchone())
    x_range = (_iso(lo), _iso(hi))
    f = Frame(sites={site})
    # the keys first (a few dozen, one scan of each table), so that every row comes back as integers only
    areas: list = []
    officers: list = []

    def add(into: list, value) -> None:
        if value is not None and value != "" and value not in into:
            into.append(value)

    for issue_area, area, officer in db.execute(
            "SELECT issue_area, area, officer FROM tickets WHERE day >= ? AND day <= ? GROUP BY 1, 2, 3", days):
        add(areas, issue_area), add(areas, area), add(officers, officer)
    for area, officer in db.execute("SELECT area, officer FROM ratings WHERE received_at >= ? GROUP BY 1, 2",
                                    r_range[:1]):
        add(areas, area), add(officers, officer)
    if has_table:
        for area, officer in db.execute("SELECT from_area, officer FROM transfers WHERE at >= ? AND at < ? "
                                        "GROUP BY 1, 2", x_range):
            add(areas, area), add(officers, officer)
    for a in areas:
        f.areas.code(a)
    for o in officers:
        f.officers.code(o)
    status_sql, status_args = _case("status", list(STATUSES))
    issue_sql, issue_args = _case("issue_area", areas)
    area_sql, area_args = _case("area", areas)
    officer_sql, officer_args = _case("officer", officers)
    # the small codes of a row travel packed in one integer: fewer Python objects, a third of the time
    tickets_query = (
        f"SELECT {_epoch('issued_at')}, {_epoch('called_at')}, {_epoch('finished_at')}, {_epoch('skipped_at')}, "
        f"({status_sql}) + (({issue_sql}) + 1) * {1 << 3} + (({area_sql}) + 1) * {1 << 15} "
        f"+ (IFNULL(counter, -1) + 1) * {1 << 27} + (({officer_sql}) + 1) * {1 << 37}, rowid "
        "FROM tickets WHERE day >= ? AND day <= ?",
        (*status_args, *issue_args, *area_args, *officer_args, *days))
    level_sql, level_args = _case("r.level", list(LEVELS))
    r_area_sql, r_area_args = _case("r.area", areas)
    r_officer_sql, r_officer_args = _case("r.officer", officers)
    where = "WHERE r.received_at >= ? AND (r.rated_at < ? OR r.received_at < ?)"
    ratings_query = (
        f"SELECT {_epoch('r.rated_at')}, {_epoch('r.received_at')}, {_epoch('t.finished_at')}, "
        f"(({level_sql}) + 1) + (r.counter + 1) * {1 << 3} + (({r_officer_sql}) + 1) * {1 << 13} "
        f"+ (({r_area_sql}) + 1) * {1 << 29} + (r.reasons != '[]' OR r.indicators IS NOT NULL) * {1 << 41} "
        f"FROM ratings r LEFT JOIN tickets t ON t.ticket_id = r.ticket_id {where} ORDER BY r.rowid",
        (*level_args, *r_officer_args, *r_area_args, *r_range))
    rows, rating_rows = _fetch_all(database, [tickets_query, ratings_query])
    t = _ints(rows, 6)
    del rows
    f.issued, f.called, f.finished, f.skipped = (_times(t[:, i]) for i in range(4))
    packed = t[:, 4]
    f.status = (packed & 7).astype(np.int8)
    f.issue_area = ((packed >> 3) & 0xFFF).astype(np.int32) - 1
    f.area = ((packed >> 15) & 0xFFF).astype(np.int32) - 1
    f.counter = _counter_codes(f, ((packed >> 27) & 0x3FF) - 1)
    f.officer = ((packed >> 37) & 0xFFFF).astype(np.int32) - 1
    rowids = t[:, 5]

    x_rows: list = []
    if has_table:
        x_area_sql, x_area_args = _case("x.from_area", areas)
        x_officer_sql, x_officer_args = _case("x.officer", officers)
        x_rows = db.execute(
            f"SELECT {_epoch('x.at')}, {_epoch('x.called_at')}, x.counter, {x_officer_sql}, {x_area_sql}, "
            "IFNULL(t.rowid, -1) FROM transfers x LEFT JOIN tickets t ON t.ticket_id = x.ticket_id "
            "WHERE x.at >= ? AND x.at < ?", (*x_officer_args, *x_area_args, *x_range)).fetchall()
    for x in _logged_transfers(db, lo, hi, site, has_table):
        x_rows.append((int(x.at.timestamp()), -1, x.counter, f.officers.code(x.officer), -1, -1))
    x = _ints(x_rows, 6)
    f.x_at, f.x_called = _times(x[:, 0]), _times(x[:, 1])
    f.x_counter = _counter_codes(f, x[:, 2])
    f.x_officer, f.x_area = x[:, 3].astype(np.int32), x[:, 4].astype(np.int32)
    if len(x):  # the transfer's ticket, as a row of this frame
        order = np.argsort(rowids)
        pos = np.searchsorted(rowids, x[:, 5], sorter=order)
        pos = np.minimum(pos, max(len(rowids) - 1, 0))
        found = (x[:, 5] >= 0) & (len(rowids) > 0) & (rowids[order[pos]] == x[:, 5]) if len(rowids) else \
            np.zeros(len(x), dtype=bool)
        f.x_ticket = np.where(found, order[pos] if len(rowids) else -1, -1).astype(np.int64)
    else:
        f.x_ticket = np.zeros(0, dtype=np.int64)

    r = _ints(rating_rows, 4)
    del rating_rows
    f.r_rated, f.r_received, f.r_served = (_times(r[:, i]) for i in range(3))
    packed = r[:, 3]
    f.r_level = ((packed & 7) - 1).astype(np.int8)
    f.r_counter = _counter_codes(f, ((packed >> 3) & 0x3FF) - 1)
    f.r_officer = ((packed >> 13) & 0xFFFF).astype(np.int32) - 1
    f.r_area = ((packed >> 29) & 0xFFF).astype(np.int32) - 1
    f.r_extra = ((packed >> 41) & 1) == 1
    # reasons and indicator forms: only the few ratings that have them, parsed as one JSON document
    f.r_reasons = [()] * len(r)
    f.r_indicators = [None] * len(r)
    extra = np.flatnonzero(f.r_extra)
    if len(extra):
        (texts,) = db.execute(
            "SELECT json_group_array(json_array(json(r.reasons), json(r.indicators))) FROM (SELECT r.reasons, "
            f"r.indicators FROM ratings r LEFT JOIN tickets t ON t.ticket_id = r.ticket_id {where} "
            "AND (r.reasons != '[]' OR r.indicators IS NOT NULL) ORDER BY r.rowid) AS r", r_range).fetchone()
        for i, (reasons, indicators) in zip(extra.tolist(), json.loads(texts)):
            f.r_reasons[i] = tuple(reasons or ())
            f.r_indicators[i] = indicators
    return f


def _counter_codes(f: Frame, numbers: np.ndarray) -> np.ndarray:
    """Counter numbers to the frame's counter codes (-1 stays -1)."""
    if not len(numbers):
        return np.zeros(0, dtype=np.int32)
    uniq = np.unique(numbers)
    table = {int(n): f.counters.code(int(n)) if n >= 0 else -1 for n in uniq}
    lookup = np.array([table[int(n)] for n in uniq], dtype=np.int32)
    return lookup[np.searchsorted(uniq, numbers)]


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
