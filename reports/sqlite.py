"""Records from the dispatcher's SQLite database, opened read-only.

The dispatcher's schema (``dispatcher/store.py``) is the contract; this module
reads it with SQL and imports nothing of the dispatcher. Read-only means the
report can run beside a working dispatcher (WAL: readers never block it) and
can never change what it reads.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from .frame import LEVELS, STATUSES, Frame, Keys, ReasonPairs
from .records import RatingRecord, Records, TicketRecord, TransferRecord

MARGIN = timedelta(days=2)  # a ticket's events all fall within a day or so of its issue
CHUNK_DAYS = 31  # tickets are read a month of service days at a time
CHUNK_ROWS = 40_000  # ratings, this many rows at a time


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


# Rows travel from SQLite as one fixed-width ASCII text per query (group_concat of printf):
# no Python object per row or per value, and numpy reads the columns straight out of the bytes.
# Times: whole seconds since the epoch, floored (SQLite parses the stored ISO text with its
# offset, in C); 0 or less is "never" (NULL, unreadable, or not after 1970). Ints: -1 for NULL.
# Keys (areas, officers) as they are, space-padded to a fixed width. Should a key be longer than
# that width or not ASCII, the rows come out longer than expected and are read again with every
# key as the hex of its bytes, at the exact width the data needs.
TIME, INT, KEY = "time", "int", "key"
KEY_CHARS = 12  # area codes and officer logins are shorter
REASON_CHARS = 24  # the pads' reason codes ("complex_procedure") are shorter


NUMBER_CHARS = 12  # "%012d": every time up to the year 9999, every counter and rowid


def _spec(kind: str, sql: str, key_width: int | None, key_chars: int = KEY_CHARS) -> tuple[str, str, int]:
    """(printf conversion, argument, width) of one column; ``key_width`` None: keys as they are."""
    if kind == TIME:
        return "%012d", f"unixepoch({sql})", NUMBER_CHARS  # NULL is 0
    if kind == INT:
        return "%012d", f"IFNULL({sql}, -1)", NUMBER_CHARS
    if key_width is None:
        return f"%-{key_chars}s", sql, key_chars
    return f"%-{2 * key_width}s", f"hex({sql})", 2 * key_width


def _fixed(db: sqlite3.Connection, columns: list[tuple[str, str]], rest: str, args: tuple,
           key_chars: int = KEY_CHARS) -> list:
    """Run ``SELECT <columns> <rest>`` and return each column: times as float64 (NaN for never),
    ints as int64 (-1 for NULL), numpy arrays; keys as (fixed-width bytes, whether they are hex)."""
    key_width = None
    while True:
        specs = [_spec(kind, sql, key_width, key_chars) for kind, sql in columns]
        row = sum(w for _, _, w in specs)
        text, n = db.execute(
            f"SELECT CAST(group_concat(printf('{''.join(f for f, _, _ in specs)}', "
            f"{', '.join(a for _, a, _ in specs)}), '') AS BLOB), count(*) {rest}", args).fetchone()
        if len(text or b"") == n * row:
            break
        if key_width is not None:
            raise DatabaseError("the database returned rows of an unexpected shape (a time beyond the year 9999?)")
        keys = [sql for kind, sql in columns if kind == KEY]
        key_width = max(db.execute(
            f"SELECT {', '.join(f'IFNULL(max(length(CAST({k} AS BLOB))), 0)' for k in keys) or '0'} {rest}",
            args).fetchone())
    buf = np.frombuffer(text or b"", dtype=np.uint8).reshape(n, row)
    out: list = []
    at = 0
    for (kind, _), (_, _, width) in zip(columns, specs):
        block = buf[:, at:at + width]
        at += width
        if kind == KEY:
            # with whether it came as hex; sorted out by the caller, not on a reader thread (where the
            # other reader's rows' text may still be held: a busy hall's year would need 30 MB more)
            out.append((np.ascontiguousarray(block).view(f"S{width}").reshape(n), key_width is not None))
        elif kind == TIME:
            times = _number(block, np.float64)  # exact: whole seconds are far below 2**53
            times[times <= 0] = np.nan
            out.append(times)
        else:
            out.append(_number(block, np.int64))
    return out


def _number(block: np.ndarray, dtype) -> np.ndarray:
    """Whole numbers written by printf('%012d') (a leading '-' for negatives), one a row: one pass
    of C over the digits (their dot product with the places' powers of ten)."""
    places = 10 ** np.arange(block.shape[1] - 1, -1, -1, dtype=np.int64)
    values = np.einsum("nk,k->n", block, places.astype(dtype), dtype=dtype)
    values -= ord("0") * int(places.sum())  # each digit's '0'
    negative = block[:, 0] == ord("-")
    if negative.any():  # '-' stood where a digit 0 would: take it out, and turn the sign
        values[negative] = -(values[negative] - (ord("-") - ord("0")) * int(places[0]))
    return values


def _distinct(column: np.ndarray, hexed: bool) -> tuple[list[str], np.ndarray]:
    """The distinct keys of a column of fixed-width keys (hex text if ``hexed``), and for every row
    the index of its key among them.

    The few distinct values are found through a 64-bit hash of each key's bytes (one dot product
    with random odd weights, wrapping: integers, no sort of strings), and every row is then checked
    against its value's first row, so a collision can never merge two keys: it falls back to
    comparing the text."""
    n = len(column)
    if not n:
        return [], np.zeros(0, dtype=np.int64)
    width = column.dtype.itemsize
    raw = np.frombuffer(np.ascontiguousarray(column), dtype=np.uint8).reshape(n, width)
    mix = np.einsum("nk,k->n", raw, _weights(width), dtype=np.uint64)
    distinct = np.unique(mix)
    inverse = np.searchsorted(distinct, mix)
    if len(distinct) <= 256:  # the usual case: a few dozen keys
        first = np.array([np.argmax(inverse == j) for j in range(len(distinct))], dtype=np.int64)
    else:
        first = np.unique(inverse, return_index=True)[1]
    values = column[first]
    if not np.array_equal(values[inverse], column):
        values, inverse = np.unique(column, return_inverse=True)
    names = [bytes.fromhex(v.decode().rstrip()) if hexed else v.rstrip(b" ") for v in values.tolist()]
    return [v.decode("utf-8", "replace") for v in names], inverse.reshape(n)


def _weights(width: int) -> np.ndarray:
    """Fixed random odd 64-bit weights, one per byte of a key (the same on every run)."""
    return np.random.default_rng(width).integers(1, 2**63, width, dtype=np.uint64) | np.uint64(1)


def _code_of(column: str, keys: tuple) -> str:
    """SQL giving the index of ``column``'s value in ``keys`` (-1 otherwise)."""
    return f"CASE {column} " + " ".join(f"WHEN '{k}' THEN {i}" for i, k in enumerate(keys)) + " ELSE -1 END"


def _first_rowid(db: sqlite3.Connection, table: str, index: str, condition: str, args: tuple) -> int:
    """The smallest rowid of ``table``'s rows that meet ``condition`` (found in ``index`` alone), or
    one past the last row if none does; 0 (every row) should the index be missing."""
    try:
        row = db.execute(f"SELECT min(rowid) FROM {table} INDEXED BY {index} WHERE {condition}", args).fetchone()
    except sqlite3.OperationalError:  # an older database without the index: read every row
        return 0
    if row[0] is not None:
        return int(row[0])
    return int(db.execute(f"SELECT IFNULL(max(rowid), 0) + 1 FROM {table}").fetchone()[0])


def _fetch_all(database: Path, tasks: Sequence[Callable[[sqlite3.Connection], Any]]) -> list:
    """Run read-only tasks on a few threads (one per core), each thread on its own connection, and
    return their results in the tasks' order. SQLite and most of numpy work without the GIL, so a
    year's pieces of tickets and ratings are read side by side, and whichever thread is free takes
    the next piece."""
    results: list = [None] * len(tasks)
    errors: list[BaseException] = []
    todo = iter(list(enumerate(tasks)))
    lock = threading.Lock()

    def run() -> None:
        try:
            db = sqlite3.connect(database.resolve().as_uri() + "?mode=ro", uri=True)
            try:
                while not errors:
                    with lock:
                        i, task = next(todo, (-1, None))
                    if task is None:
                        return
                    results[i] = task(db)
            finally:
                db.close()
        except BaseException as exc:  # noqa: BLE001 - raised again below, in the caller's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, name="motcua-report-read") for _ in range(min(len(tasks), _cores()))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def _cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _read(db: sqlite3.Connection, columns: list[tuple[str, str]], rest: str, args: tuple,
          key_chars: int = KEY_CHARS) -> list:
    """:func:`_fixed`, with each column of keys as its distinct keys and every row's index among
    them (found on the reader's thread; the caller numbers the keys)."""
    values = _fixed(db, columns, rest, args, key_chars)
    return [_distinct(*v) if kind == KEY else v for (kind, _), v in zip(columns, values)]


def _joined(columns: list[tuple[str, str]], pieces: list[list], keys: list[Keys]) -> list[np.ndarray]:
    """The pieces :func:`_read` returned, one column after another; keys numbered in ``keys``
    (one Keys per column of keys, in order)."""
    out: list[np.ndarray] = []
    numbering = iter(keys)
    for j, (kind, _) in enumerate(columns):
        if kind == KEY:
            k = next(numbering)
            parts = [_codes(k, *p[j]) for p in pieces]
            empty = np.zeros(0, dtype=np.int32)
        else:
            parts = [p[j] for p in pieces]
            empty = np.zeros(0, dtype=np.float64 if kind == TIME else np.int64)
        for p in pieces:
            p[j] = None  # each piece's column is let go once the whole column is made
        out.append(np.concatenate(parts) if parts else empty)
        del parts
    return out


def _codes(keys: Keys, names: list[str], inverse: np.ndarray) -> np.ndarray:
    """Codes (``Keys``) of a column of keys as :func:`_distinct` found them; a blank key is -1."""
    return np.array([keys.code(v) for v in names], dtype=np.int32)[inverse] if names else \
        np.zeros(len(inverse), dtype=np.int32)


def _day_pieces(first: date, last: date) -> list[tuple[str, str, str]]:
    """[first, last] in pieces of CHUNK_DAYS days: (SQL condition on ``day``, its two bounds)."""
    out = []
    while first <= last:
        upto = first + timedelta(days=CHUNK_DAYS)
        if upto > last:
            out.append(("day >= ? AND day <= ?", first.isoformat(), last.isoformat()))
        else:
            out.append(("day >= ? AND day < ?", first.isoformat(), upto.isoformat()))
        first = upto
    return out


def _load(db: sqlite3.Connection, start: datetime, end: datetime, site: str, database: Path) -> Frame:
    lo, hi = start - MARGIN, end + MARGIN
    r_range = (_iso(start - timedelta(days=1)), _iso(end + timedelta(days=1)), _iso(end + timedelta(days=1)))
    has_table = bool(db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'transfers'").fetchone())
    x_range = (_iso(lo), _iso(hi))
    f = Frame(sites={site})
    # Tickets in pieces of a month of service days (through the day index: a hall's tickets are
    # stored in the order of their days), ratings in pieces of CHUNK_ROWS rows: no piece's text
    # is large (a whole year at once took 120 MB), and the readers share the pieces evenly.
    ticket_columns = [(TIME, "issued_at"), (TIME, "called_at"), (TIME, "finished_at"), (TIME, "skipped_at"),
                      (INT, _code_of("status", STATUSES)), (INT, "counter"), (INT, "rowid"),
                      (KEY, "issue_area"), (KEY, "area"), (KEY, "officer")]
    # (by the index of days alone: through another index that starts with the day, such as
    # (day, issue_area), a day's rows come in another order, to be put back in the table's)
    by_day = " INDEXED BY tickets_day" if db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'tickets_day'").fetchone() else ""
    ticket_tasks = [partial(_read, columns=ticket_columns, rest=f"FROM tickets{by_day} WHERE {where}", args=(a, b))
                    for where, a, b in _day_pieces(lo.date(), hi.date())]
    # Ratings are stored as they arrive: their rows follow received_at. Read from the first row
    # received in the range on, in the table's order (the condition on received_at still decides):
    # through the received_at index, a busy hall's year of rows is visited in the index's order,
    # all over the table, for a third more CPU.
    first = _first_rowid(db, "ratings", "ratings_received", "received_at >= ?", r_range[:1])
    last = int(db.execute("SELECT IFNULL(max(rowid), 0) FROM ratings").fetchone()[0])
    has_extra = "r.reasons != '[]' OR r.indicators IS NOT NULL"
    rating_columns = [(TIME, "r.rated_at"), (TIME, "r.received_at"), (INT, "t.rowid"),
                      (INT, _code_of("r.level", LEVELS)), (INT, "r.counter"), (INT, "r.rowid"),
                      (INT, f"({has_extra})"), (KEY, "r.officer"), (KEY, "r.area")]
    # (the rated ticket's row only, from its index: its finish is in the tickets read beside)
    # Reasons and indicator forms: only the few ratings that have them (their rowids, as a JSON
    # array): the reasons as (rating, reason) pairs of fixed-width text, the forms as JSON.
    chosen = "WHERE r.rowid IN (SELECT value FROM json_each(?))"
    reasons_query = ([(INT, "r.rowid"), (KEY, "j.value")], f"FROM ratings r, json_each(r.reasons) j {chosen}")
    forms_query = (f"SELECT json_group_array(json_array(r.rowid, json(r.indicators))) FROM ratings r {chosen} "
                   "AND r.indicators IS NOT NULL")

    def read_ratings(db: sqlite3.Connection, a: int, b: int) -> tuple[list, list | None, list]:
        columns = _read(db, rating_columns, "FROM ratings r NOT INDEXED LEFT JOIN tickets t ON t.ticket_id = r.ticket_id "
                        f"WHERE r.rowid >= {a} AND r.rowid < {b} AND r.received_at >= ? "
                        "AND (r.rated_at < ? OR r.received_at < ?)", r_range)
        extra = columns[5][columns[6] == 1]  # the rowids of the ratings with reasons or indicators
        if not len(extra):
            return columns, None, []
        rowids = (json.dumps(extra.tolist()),)
        return (columns, _read(db, *reasons_query, rowids, REASON_CHARS),
                json.loads(db.execute(forms_query, rowids).fetchone()[0]))

    rating_tasks = [partial(read_ratings, a=a, b=min(a + CHUNK_ROWS, last + 1))
                    for a in range(first, last + 1, CHUNK_ROWS)]
    transfer_columns = [(TIME, "x.at"), (TIME, "x.called_at"), (INT, "x.counter"), (INT, "t.rowid"),
                        (KEY, "x.officer"), (KEY, "x.from_area")]
    transfer_tasks = [partial(_read, columns=transfer_columns, args=x_range, rest=(
        "FROM transfers x LEFT JOIN tickets t ON t.ticket_id = x.ticket_id WHERE x.at >= ? AND x.at < ?"))] \
        if has_table else []
    tasks: list[Callable[[sqlite3.Connection], Any]] = [*transfer_tasks, *ticket_tasks, *rating_tasks]
    pieces = _fetch_all(database, tasks)
    transfers = pieces.pop(0) if has_table else None
    tickets, ratings = pieces[:len(ticket_tasks)], pieces[len(ticket_tasks):]
    del pieces
    (f.issued, f.called, f.finished, f.skipped, status, counter, rowids, f.issue_area, f.area,
     f.officer) = _joined(ticket_columns, tickets, [f.areas, f.areas, f.officers])
    del tickets
    f.status = np.where(status < 0, 0, status).astype(np.int8)  # as the records path: an unknown status counts as waiting
    f.counter = _counter_codes(f, counter)
    order = np.argsort(rowids, kind="stable")
    if not np.array_equal(order, np.arange(len(rowids))):  # days out of the rows' order: put rows in table order
        for name in ("issued", "called", "finished", "skipped", "status", "issue_area", "area", "counter", "officer"):
            setattr(f, name, getattr(f, name)[order])
        rowids = rowids[order]

    if transfers is not None:
        x_at, x_called, x_counter, x_ticket, x_officer, x_area = _joined(transfer_columns, [transfers],
                                                                         [f.officers, f.areas])
    else:
        x_at = x_called = np.zeros(0)
        x_counter = x_ticket = np.zeros(0, dtype=np.int64)
        x_officer = x_area = np.zeros(0, dtype=np.int32)
    logged = _logged_transfers(db, lo, hi, site, has_table)
    if logged:
        x_at = np.concatenate([x_at, np.array([int(x.at.timestamp()) for x in logged], dtype=np.float64)])
        x_called = np.concatenate([x_called, np.full(len(logged), np.nan)])
        x_counter = np.concatenate([x_counter, np.array([x.counter for x in logged], dtype=np.int64)])
        x_ticket = np.concatenate([x_ticket, np.full(len(logged), -1, dtype=np.int64)])
        x_officer = np.concatenate([x_officer, np.array([f.officers.code(x.officer) for x in logged], dtype=np.int32)])
        x_area = np.concatenate([x_area, np.full(len(logged), -1, dtype=np.int32)])
    f.x_at, f.x_called = x_at, x_called
    f.x_counter = _counter_codes(f, x_counter)
    f.x_officer, f.x_area = x_officer.astype(np.int32), x_area.astype(np.int32)
    if len(x_ticket) and len(rowids):  # the transfer's ticket, as a row of this frame (rowids are sorted)
        pos = np.minimum(np.searchsorted(rowids, x_ticket), len(rowids) - 1)
        f.x_ticket = np.where((x_ticket >= 0) & (rowids[pos] == x_ticket), pos, -1).astype(np.int64)
    else:
        f.x_ticket = np.full(len(x_ticket), -1, dtype=np.int64)

    (f.r_rated, f.r_received, r_ticket, level, r_counter, r_rowids, extra, f.r_officer,
     f.r_area) = _joined(rating_columns, [p[0] for p in ratings], [f.officers, f.areas])
    reasons = [p[1] for p in ratings if p[1] is not None]
    forms = [form for p in ratings for form in p[2]]
    del ratings
    order = np.argsort(r_rowids, kind="stable")
    if not np.array_equal(order, np.arange(len(r_rowids))):
        f.r_rated, f.r_received, r_ticket = f.r_rated[order], f.r_received[order], r_ticket[order]
        level, r_counter, r_rowids, extra = level[order], r_counter[order], r_rowids[order], extra[order]
        f.r_officer, f.r_area = f.r_officer[order], f.r_area[order]
    f.r_level = level.astype(np.int8)
    f.r_counter = _counter_codes(f, r_counter)
    f.r_served = _served(db, r_ticket, rowids, f.finished)
    f.r_extra = extra == 1
    f.r_indicators = [None] * len(r_rowids)
    form_rows: list[int] = []
    if forms:
        at = np.searchsorted(r_rowids, np.array([row[0] for row in forms], dtype=np.int64))
        for i, (rowid, indicators) in zip(at.tolist(), forms):
            if i < len(r_rowids) and r_rowids[i] == rowid and indicators:
                f.r_indicators[i] = indicators
                form_rows.append(i)
    f.reasons = _reason_pairs(r_rowids, reasons, np.array(sorted(form_rows), dtype=np.int64))
    return f


def _reason_pairs(rowids: np.ndarray, reasons: list[list], forms: np.ndarray) -> ReasonPairs:
    """The reasons read as pieces of (rating rowid, reason) columns, as the frame's (rating row,
    reason code) pairs; ``forms``: the rows of the ratings with indicator forms."""
    index: dict[str, int] = {}
    rated, codes = [], []
    for rowid, (names, inverse) in reasons:
        rated.append(rowid)
        codes.append(np.array([index.setdefault(n, len(index)) for n in names], dtype=np.int64)[inverse]
                     if names else np.zeros(0, dtype=np.int64))
    if not rated:
        return ReasonPairs(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), [], forms)
    rowid_of, code_of = np.concatenate(rated), np.concatenate(codes)
    rows = np.searchsorted(rowids, rowid_of)
    found = rows < len(rowids)
    found[found] = rowids[rows[found]] == rowid_of[found]
    return ReasonPairs(rows[found].astype(np.int64), code_of[found], list(index), forms)


def _served(db: sqlite3.Connection, tickets: np.ndarray, rowids: np.ndarray, finished: np.ndarray) -> np.ndarray:
    """When each rated ticket (a tickets rowid, -1 for none) was finished: from the tickets already
    read (``rowids`` sorted, ``finished`` beside them), or, for a ticket from before them (a pad
    that delivered its ratings days late), from the database."""
    served = np.full(len(tickets), np.nan)
    known = tickets >= 0
    if len(rowids):
        pos = np.minimum(np.searchsorted(rowids, tickets), len(rowids) - 1)
        here = known & (rowids[pos] == tickets)
        served[here] = finished[pos[here]]
        known &= ~here
    if known.any():
        older = dict(db.execute(
            "SELECT rowid, unixepoch(finished_at) FROM tickets WHERE rowid IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(set(tickets[known].tolist()))),)).fetchall())
        served[known] = [at if at is not None and at > 0 else np.nan  # as TIME columns read
                         for at in (older.get(t) for t in tickets[known].tolist())]
    return served


def _counter_codes(f: Frame, numbers: np.ndarray) -> np.ndarray:
    """Counter numbers to the frame's counter codes (-1 stays -1)."""
    if not len(numbers):
        return np.zeros(0, dtype=np.int32)
    shifted = numbers.astype(np.int64) + 1  # -1 (none) is 0
    present = np.flatnonzero(np.bincount(shifted)) if shifted.max() < 1 << 20 else np.unique(shifted)
    table = np.full(int(present[-1]) + 1, -1, dtype=np.int32) if shifted.max() < 1 << 20 else None
    if table is None:
        lookup = np.array([f.counters.code(int(n) - 1) if n > 0 else -1 for n in present], dtype=np.int32)
        return lookup[np.searchsorted(present, shifted)]
    for n in present.tolist():
        table[n] = f.counters.code(n - 1) if n > 0 else -1
    return table[shifted]


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
    out: list[TransferRecord] = []
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
