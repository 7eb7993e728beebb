"""The adapter's own SQLite file: the rating outbox, the dossier cache, the pull watermarks.

Pure storage, no threads: the service serialises access with one lock.

* ``pushes``: one row per accepted rating, ``(site, rating_id)`` unique, kept
  after it is pushed (``pushed_at``) as the record of what the one-stop
  software was told. ``rejected`` rows keep the system's reason: an operator
  fixes the mapping and runs ``motcua onestop retry``.
* ``dossiers``: the last status of each hall's dossiers, for the progress summary.
* ``wanted``: dossier codes a hall has just met (attached at a counter or
  the kiosk) whose status is pulled by code on the next round.
* ``pulls``: per hall, when the last complete pull of its changes began.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from datetime import datetime, timedelta, timezone
from pathlib import Path

from motcua.protocol import RatingEvent
from motcua.protocol.messages import DossierRecord
from motcua.sqlitefile import open_database, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS pushes (
    site        TEXT NOT NULL,
    rating_id   TEXT NOT NULL,
    payload     TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'pending',   -- pending | pushed | rejected
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     TEXT NOT NULL,
    last_error  TEXT,
    received_at TEXT NOT NULL,
    pushed_at   TEXT,
    PRIMARY KEY (site, rating_id)
);
CREATE INDEX IF NOT EXISTS pushes_due ON pushes (state, next_at);
CREATE TABLE IF NOT EXISTS dossiers (
    site        TEXT NOT NULL,
    code        TEXT NOT NULL,
    status      TEXT NOT NULL,
    appointment TEXT,
    updated_at  TEXT NOT NULL,
    first_at    TEXT NOT NULL,     -- the first change the system reported: taken as its reception
    done_at     TEXT,              -- the first change to 'ready' or 'returned': its result
    PRIMARY KEY (site, code)
);
CREATE TABLE IF NOT EXISTS wanted (
    site TEXT NOT NULL,
    code TEXT NOT NULL,
    PRIMARY KEY (site, code)
);
CREATE TABLE IF NOT EXISTS pulls (
    site  TEXT PRIMARY KEY,
    since TEXT NOT NULL
);
"""


DONE = ("ready", "returned")


def _now() -> datetime:
    return datetime.now(timezone.utc)


class State:
    def __init__(self, path: Path | str):
        self.db = open_database(path, timeout=10)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self.db)

    # ------------------------------------------------------------------ the rating outbox

    def keep_rating(self, site: str, rating: RatingEvent) -> bool:
        """Into the outbox (in the caller's transaction); False if it was already there."""
        now = _now().isoformat()
        cur = self.db.execute(
            "INSERT INTO pushes (site, rating_id, payload, next_at, received_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING", (site, rating.rating_id, rating.model_dump_json(), now, now))
        return cur.rowcount == 1

    def due(self, limit: int = 50) -> list[tuple[str, RatingEvent, int]]:
        rows = self.db.execute("SELECT site, payload, attempts FROM pushes WHERE state = 'pending' AND next_at <= ? "
                               "ORDER BY next_at LIMIT ?", (_now().isoformat(), limit)).fetchall()
        return [(r["site"], RatingEvent.model_validate_json(r["payload"]), r["attempts"]) for r in rows]

    def next_due_in(self) -> float | None:
        at = self.db.execute("SELECT MIN(next_at) FROM pushes WHERE state = 'pending'").fetchone()[0]
        return None if at is None else max(0.0, (datetime.fromisoformat(at) - _now()).total_seconds())

    def pushed(self, site: str, rating_id: str) -> None:
        self.db.execute("UPDATE pushes SET state = 'pushed', attempts = attempts + 1, pushed_at = ?, last_error = NULL "
                        "WHERE site = ? AND rating_id = ?", (_now().isoformat(), site, rating_id))

    def retry_later(self, site: str, rating_id: str, error: str, delay_s: float) -> None:
        self.db.execute("UPDATE pushes SET attempts = attempts + 1, last_error = ?, next_at = ? "
                        "WHERE site = ? AND rating_id = ?",
                        (error, (_now() + timedelta(seconds=delay_s)).isoformat(), site, rating_id))

    def rejected(self, site: str, rating_id: str, error: str) -> None:
        self.db.execute("UPDATE pushes SET state = 'rejected', attempts = attempts + 1, last_error = ? "
                        "WHERE site = ? AND rating_id = ?", (error, site, rating_id))

    def retry_rejected(self) -> int:
        """An operator fixed the cause: push the rejected ratings again."""
        return self.db.execute("UPDATE pushes SET state = 'pending', next_at = ? WHERE state = 'rejected'",
                               (_now().isoformat(),)).rowcount

    def counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in self.db.execute("SELECT state, COUNT(*) FROM pushes GROUP BY state")}

    # ------------------------------------------------------------------ dossiers

    def want(self, site: str, code: str) -> None:
        self.db.execute("INSERT INTO wanted (site, code) VALUES (?, ?) ON CONFLICT DO NOTHING", (site, code))

    def wanted(self, site: str) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT code FROM wanted WHERE site = ? ORDER BY code", (site,))]

    def got(self, site: str, codes: list[str]) -> None:
        self.db.executemany("DELETE FROM wanted WHERE site = ? AND code = ?", [(site, c) for c in codes])

    def remember(self, site: str, records: list[DossierRecord]) -> list[DossierRecord]:
        """Cache the records; returns those newer than what was known (the ones worth sending down)."""
        newer = []
        for r in records:
            at = r.updated_at.astimezone(timezone.utc).isoformat()
            done = at if r.status in DONE else None
            cur = self.db.execute(
                "INSERT INTO dossiers (site, code, status, appointment, updated_at, first_at, done_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (site, code) DO UPDATE SET status = excluded.status, appointment = excluded.appointment, "
                "updated_at = excluded.updated_at, done_at = COALESCE(dossiers.done_at, excluded.done_at) "
                "WHERE excluded.updated_at > dossiers.updated_at",
                (site, r.code, r.status, r.appointment_date.isoformat() if r.appointment_date else None, at, at,
                 done))
            if cur.rowcount == 1:
                newer.append(r)
        return newer

    def progress(self, site: str, first: datetime, day_start: datetime, now: datetime) -> tuple[dict, dict]:
        """(today, month) counts for the dossier-progress screen, as far as the system's status records tell:
        received = first reported in the period, done = first reported ready or returned in the period (on
        time if on or before the appointment date), in progress and overdue = now."""
        today = now.date().isoformat()

        def flows(start: datetime) -> dict[str, int]:
            lo, hi = start.astimezone(timezone.utc).isoformat(), now.astimezone(timezone.utc).isoformat()
            row = self.db.execute(
                "SELECT SUM(first_at >= ? AND first_at <= ?), "
                "SUM(done_at >= ? AND done_at <= ? AND (appointment IS NULL OR substr(done_at, 1, 10) <= appointment)), "
                "SUM(done_at >= ? AND done_at <= ? AND appointment IS NOT NULL AND substr(done_at, 1, 10) > appointment) "
                "FROM dossiers WHERE site = ?", (lo, hi, lo, hi, lo, hi, site)).fetchone()
            return {"received": row[0] or 0, "done_on_time": row[1] or 0, "done_late": row[2] or 0}

        stock = self.db.execute(
            "SELECT SUM(appointment IS NULL OR appointment >= ?), SUM(appointment < ?) FROM dossiers "
            "WHERE site = ? AND status IN ('received', 'processing', 'additional_documents_required')",
            (today, today, site)).fetchone()
        stocks = {"in_progress": stock[0] or 0, "overdue": stock[1] or 0}
        return {**flows(day_start), **stocks}, {**flows(first), **stocks}

    def since(self, site: str) -> datetime | None:
        row = self.db.execute("SELECT since FROM pulls WHERE site = ?", (site,)).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def pulled(self, site: str, began: datetime) -> None:
        self.db.execute("INSERT INTO pulls (site, since) VALUES (?, ?) ON CONFLICT (site) DO UPDATE SET "
                        "since = excluded.since", (site, began.isoformat()))
