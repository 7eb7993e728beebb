"""The pad's SQLite outbox: no rating is lost, none is sent as two.

A rating is committed here (``synchronous=FULL``) before the thank-you screen
appears, then sent until the dispatcher acknowledges its rating id; only then
is it removed. Retries reuse the same rating id, and the dispatcher counts a
rating id once, so the hall counts each rating exactly once.

The ``decided`` table remembers every ticket this pad has already recorded
(rated or not), so the same ticket can never be rated twice on this pad,
even after a reboot.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from pathlib import Path

from motcua.protocol import Rating
from motcua.sqlitefile import open_database, transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    rating_id TEXT PRIMARY KEY,
    payload   TEXT NOT NULL,
    queued_at TEXT NOT NULL,
    attempts  INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS decided (
    ticket_id TEXT PRIMARY KEY,
    decided_at TEXT NOT NULL
);
-- refused by the dispatcher (e.g. a ticket it does not know): kept for the technician, never resent
CREATE TABLE IF NOT EXISTS refused (
    rating_id TEXT PRIMARY KEY,
    payload   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    refused_at TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class Outbox:
    def __init__(self, path: Path | str):
        self._db = open_database(path, timeout=5)
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()  # the screen thread adds, the delivery thread acknowledges

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, rating: Rating) -> None:
        """Durably queue a rating and mark its ticket decided, in one transaction."""
        with self._lock, transaction(self._db) as db:
            db.execute("INSERT INTO outbox(rating_id, payload, queued_at) VALUES(?, ?, ?)",
                       (rating.rating_id, rating.model_dump_json(), _now()))
            if rating.ticket_id:
                db.execute("INSERT OR IGNORE INTO decided(ticket_id, decided_at) VALUES(?, ?)",
                           (rating.ticket_id, _now()))

    def decided(self, ticket_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM decided WHERE ticket_id = ?", (ticket_id,)).fetchone() is not None

    def pending(self, limit: int = 50) -> list[Rating]:
        """Oldest first."""
        with self._lock:
            rows = self._db.execute("SELECT payload FROM outbox ORDER BY queued_at, rating_id LIMIT ?",
                                    (limit,)).fetchall()
        return [Rating.model_validate_json(r[0]) for r in rows]

    def attempted(self, rating_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE rating_id = ?", (rating_id,))

    def acknowledged(self, rating_id: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM outbox WHERE rating_id = ?", (rating_id,))

    def refused(self, rating: Rating, reason: str) -> None:
        with self._lock, transaction(self._db) as db:  # kept as refused and out of the outbox: both, or neither
            db.execute("INSERT OR REPLACE INTO refused(rating_id, payload, reason, refused_at) VALUES(?, ?, ?, ?)",
                       (rating.rating_id, rating.model_dump_json(), reason, _now()))
            db.execute("DELETE FROM outbox WHERE rating_id = ?", (rating.rating_id,))

    def size(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def oldest_age_s(self) -> float | None:
        with self._lock:
            row = self._db.execute("SELECT MIN(queued_at) FROM outbox").fetchone()
        if not row or row[0] is None:
            return None
        return (datetime.now(timezone.utc) - datetime.fromisoformat(row[0])).total_seconds()
