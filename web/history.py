"""The dispatcher's database, read-only: what the retained topics do not carry.

Queues (who is ahead of whom), today's counts per counter, the oldest
waiting ticket of each area, and the citizens' tracking tokens. The service
never writes here: the connection is opened with ``mode=ro``; every change
to the hall goes through the dispatcher over MQTT.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

log = logging.getLogger("web.history")


@dataclass(frozen=True)
class TicketRow:
    ticket_id: str
    number: str
    area: str
    day: str
    priority: str | None
    status: str
    queue_pos: int
    target_counter: int | None
    counter: int | None
    issued_at: datetime
    called_at: datetime | None
    call_count: int


@dataclass(frozen=True)
class Waiting:
    ticket_id: str
    number: str
    priority: bool
    target_counter: int | None
    queue_pos: int
    issued_at: datetime


_TICKET = ("SELECT ticket_id, number, area, day, priority, status, queue_pos, target_counter, counter, issued_at, "
           "called_at, call_count FROM tickets")


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _required_dt(text: str) -> datetime:
    return datetime.fromisoformat(text)  # issued_at: NOT NULL in the dispatcher's schema


def _ticket(row) -> TicketRow:
    return TicketRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], _required_dt(row[9]),
                     _dt(row[10]), row[11])


class History:
    """One read-only connection, used by one thread at a time."""

    def __init__(self, path: Path | None):
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    @property
    def available(self) -> bool:
        return self.path is not None

    def _conn(self) -> sqlite3.Connection | None:
        if self.path is None:
            return None
        if self._db is None:
            if not self.path.is_file():
                return None  # the dispatcher has not made it yet: try again next time
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, timeout=2)
        return self._db

    def _all(self, sql: str, *args) -> list[tuple]:
        with self._lock:
            try:
                db = self._conn()
                return db.execute(sql, args).fetchall() if db is not None else []
            except sqlite3.Error as exc:  # locked for long, replaced, or older than the token column
                log.warning("dispatcher database %s: %s", self.path, exc)
                if self._db is not None:
                    self._db.close()
                self._db = None
                return []

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # ------------------------------------------------------------------ queries

    def by_token(self, token: str) -> TicketRow | None:
        rows = self._all(_TICKET + " WHERE tracking_token = ?", token)
        return _ticket(rows[0]) if rows else None

    def ticket(self, ticket_id: str) -> TicketRow | None:
        rows = self._all(_TICKET + " WHERE ticket_id = ?", ticket_id)
        return _ticket(rows[0]) if rows else None

    def by_number(self, day: str, number: str) -> TicketRow | None:
        rows = self._all(_TICKET + " WHERE day = ? AND number = ?", day, number)
        return _ticket(rows[0]) if rows else None

    def waiting(self, day: str, area: str) -> list[Waiting]:
        rows = self._all("SELECT ticket_id, number, priority IS NOT NULL, target_counter, queue_pos, issued_at "
                         "FROM tickets WHERE day = ? AND area = ? AND status = 'waiting' ORDER BY queue_pos", day, area)
        return [Waiting(r[0], r[1], bool(r[2]), r[3], r[4], _required_dt(r[5])) for r in rows]

    def served_per_counter(self, day: str) -> dict[int, int]:
        rows = self._all("SELECT counter, COUNT(*) FROM tickets WHERE day = ? AND status = 'done' "
                         "AND counter IS NOT NULL GROUP BY counter", day)
        return {int(r[0]): int(r[1]) for r in rows}
