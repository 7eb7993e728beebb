"""The dispatcher's SQLite database: the single source of truth for the hall.

WAL mode with ``synchronous=FULL``: a command's transaction is on disk before
its reply leaves, so a power cut can never un-issue a number a citizen holds
(which would let it be issued again). Each command is one ``BEGIN IMMEDIATE``
transaction; the reply is stored with it, keyed by command id, which is what
makes a retried command harmless.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from motcua.protocol import Ticket
from motcua.sqlitefile import open_database, transaction

# The database's own version (PRAGMA user_version). SCHEMA below is version 1 as it first
# shipped; every later change is a forward migration in MIGRATIONS, applied in order on open,
# each in its own transaction. Readers of this file (reports) may check the version.
SCHEMA_VERSION = 4

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- last number issued per area and service day; the only source of new numbers
CREATE TABLE IF NOT EXISTS sequences (
    day         TEXT NOT NULL,
    area        TEXT NOT NULL,
    last_number INTEGER NOT NULL,
    PRIMARY KEY (day, area)
);
-- the interleave priority rule: normal tickets called since the last priority one
-- (NULL = no priority ticket called yet today, so the next one goes first)
CREATE TABLE IF NOT EXISTS interleave (
    day         TEXT NOT NULL,
    area        TEXT NOT NULL,
    normal_since_priority INTEGER,
    PRIMARY KEY (day, area)
);
CREATE TABLE IF NOT EXISTS tickets (
    ticket_id     TEXT PRIMARY KEY,
    day           TEXT NOT NULL,
    issue_area    TEXT NOT NULL,
    area          TEXT NOT NULL,          -- the queue it is in now (changes on transfer)
    number        TEXT NOT NULL,
    priority      TEXT,
    status        TEXT NOT NULL,
    queue_pos     INTEGER NOT NULL,
    target_counter INTEGER,
    counter       INTEGER,
    officer       TEXT,
    call_count    INTEGER NOT NULL DEFAULT 0,
    issued_at     TEXT NOT NULL,
    called_at     TEXT,
    finished_at   TEXT,
    skipped_at    TEXT,
    dossier_code  TEXT,
    kiosk         TEXT,
    UNIQUE (day, number)
);
CREATE INDEX IF NOT EXISTS tickets_queue ON tickets (day, status, area, queue_pos);
CREATE INDEX IF NOT EXISTS tickets_done ON tickets (area, status, finished_at);
CREATE TABLE IF NOT EXISTS counters (
    number      INTEGER PRIMARY KEY,
    status      TEXT NOT NULL DEFAULT 'closed',
    officer     TEXT,
    current     TEXT,                     -- ticket_id being served
    rating_ticket TEXT,                   -- ticket_id whose rating window is open
    rating_opened_at TEXT,
    rating_closes_at TEXT,
    updated_at  TEXT NOT NULL
);
-- one row per command or request ever applied: replay returns the same reply
CREATE TABLE IF NOT EXISTS commands (
    command_id  TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    digest      TEXT NOT NULL,
    reply       TEXT NOT NULL,
    applied_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ratings (
    rating_id   TEXT PRIMARY KEY,
    ticket_id   TEXT UNIQUE,
    counter     INTEGER NOT NULL,
    officer     TEXT,
    area        TEXT,
    dossier_code TEXT,
    level       TEXT NOT NULL,
    reasons     TEXT NOT NULL,
    indicators  TEXT,
    rated_at    TEXT NOT NULL,
    pad_id      TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ratings_received ON ratings (received_at);
-- every transfer, for the reports: the ticket row keeps only where it ended
CREATE TABLE IF NOT EXISTS transfers (
    command_id  TEXT PRIMARY KEY,
    ticket_id   TEXT NOT NULL,
    at          TEXT NOT NULL,
    counter     INTEGER NOT NULL,         -- the counter that sent it on
    officer     TEXT,
    from_area   TEXT NOT NULL,
    to_area     TEXT NOT NULL,
    to_counter  INTEGER,
    called_at   TEXT                      -- when that counter had called it
);
CREATE INDEX IF NOT EXISTS transfers_at ON transfers (at);
CREATE TABLE IF NOT EXISTS dossiers (
    code        TEXT PRIMARY KEY,
    record      TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    received_at TEXT NOT NULL
);
-- events written in the same transaction as the change they describe, and
-- deleted once the broker has them: an event is never lost to a crash
CREATE TABLE IF NOT EXISTS outbox (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    topic   TEXT NOT NULL,
    payload BLOB NOT NULL
);
"""


MIGRATIONS: dict[int, str] = {
    # 2: refused commands are told apart (and pruned sooner); events carry when they were
    # written (undelivered ones are pruned by age); indexes for pruning by age.
    2: """
    ALTER TABLE commands ADD COLUMN ok INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE outbox ADD COLUMN enqueued_at TEXT;
    CREATE INDEX IF NOT EXISTS commands_applied ON commands (applied_at);
    CREATE INDEX IF NOT EXISTS ratings_received ON ratings (received_at);
    CREATE INDEX IF NOT EXISTS tickets_day ON tickets (day);
    """,
    # 3: the citizen's queue page: a random token per ticket, printed in the QR code instead of the
    # guessable ticket id. Tickets issued before it simply have none.
    3: """
    ALTER TABLE tickets ADD COLUMN tracking_token TEXT;
    CREATE UNIQUE INDEX IF NOT EXISTS tickets_tracking ON tickets (tracking_token);
    """,
    # 4: indexes for what a keypad's command reads on its way (the next ticket reserved for a
    # counter, the oldest priority ticket, the area's last calls and today's issue count): each
    # read walks a few index entries instead of the whole day's tickets, so a busy day's
    # thousandth call costs what its first did.
    4: """
    CREATE INDEX IF NOT EXISTS tickets_called ON tickets (day, area, called_at);
    CREATE INDEX IF NOT EXISTS tickets_issued ON tickets (day, issue_area);
    CREATE INDEX IF NOT EXISTS tickets_directed ON tickets (day, status, target_counter, queue_pos)
        WHERE target_counter IS NOT NULL;
    CREATE INDEX IF NOT EXISTS tickets_priority ON tickets (day, area, status, queue_pos)
        WHERE priority IS NOT NULL;
    """,
}


class SchemaError(RuntimeError):
    """The database was written by a newer motcua: refuse rather than guess."""


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat() if dt else None


def parse_dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def required_dt(text: str) -> datetime:
    """A time stamp of a NOT NULL column."""
    return datetime.fromisoformat(text)


# Pages the write-ahead log may grow to before the writing connection copies it back into the
# database itself, on the command that crosses the mark. The dispatcher copies it every second
# from its upkeep thread (Store.checkpoint), off the keypads' path; this is the backstop should
# that thread fall behind (about 40 MB of log at SQLite's 4 KiB pages).
WAL_BACKSTOP_PAGES = 10_000


class Store:
    def __init__(self, path: Path | str, *, reader: bool = False):
        """The dispatcher's database. ``reader``: a second connection to a database the writer has
        already opened (and migrated), for reading what is committed and for checkpoints, from
        another thread, without waiting for the writer."""
        self.path = Path(path)
        if reader:
            self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=5)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA query_only = ON")
            return
        self.db = open_database(path, timeout=5, foreign_keys=True)
        self.db.execute(f"PRAGMA wal_autocheckpoint = {WAL_BACKSTOP_PAGES}")
        self.migrate()

    def checkpoint(self) -> tuple[int, int, int]:
        """Copy the write-ahead log back into the database as far as no reader needs it, without
        blocking the writer (SQLite's PASSIVE checkpoint): (busy, log pages, pages copied)."""
        row = self.db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(row[0]), int(row[1]), int(row[2])

    @property
    def version(self) -> int:
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> None:
        """Bring the database to SCHEMA_VERSION: version 1's tables, then each migration after it."""
        found = self.version
        if found > SCHEMA_VERSION:
            raise SchemaError(f"{self.path} has schema version {found}; this dispatcher knows up to "
                              f"{SCHEMA_VERSION}: install the newer motcua or restore a backup")
        if found == 0:
            self.db.executescript(SCHEMA)  # a new file, or version 1 as first shipped (it had no version)
            found = 1
        for version in range(found + 1, SCHEMA_VERSION + 1):
            with transaction(self.db):
                for statement in filter(str.strip, MIGRATIONS[version].split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {version}")

    def close(self) -> None:
        self.db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One command, one transaction: all of it on disk, or none of it."""
        return transaction(self.db)

    # ------------------------------------------------------------------ helpers

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        return self.db.execute(sql, args).fetchone()

    def all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return self.db.execute(sql, args).fetchall()

    def scalar(self, sql: str, *args: Any) -> Any:
        row = self.db.execute(sql, args).fetchone()
        return row[0] if row else None

    def meta(self, key: str) -> str | None:
        return self.scalar("SELECT value FROM meta WHERE key = ?", key)

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                        (key, value))

    def next_queue_pos(self) -> int:
        pos = int(self.meta("queue_seq") or 0) + 1
        self.set_meta("queue_seq", str(pos))
        return pos

    def ticket(self, ticket_id: str | None) -> sqlite3.Row | None:
        if ticket_id is None:
            return None
        return self.one("SELECT * FROM tickets WHERE ticket_id = ?", ticket_id)

    @staticmethod
    def to_ticket(row: sqlite3.Row) -> Ticket:
        return Ticket(
            ticket_id=row["ticket_id"], number=row["number"], area=row["area"], day=date.fromisoformat(row["day"]),
            priority=row["priority"], status=row["status"], issued_at=required_dt(row["issued_at"]),
            called_at=parse_dt(row["called_at"]), finished_at=parse_dt(row["finished_at"]),
            counter=row["counter"], target_counter=row["target_counter"], dossier_code=row["dossier_code"],
        )

    def record_transfer(self, command_id: str, ticket: sqlite3.Row, at: datetime, counter: int,
                        officer: str | None, to_area: str, to_counter: int | None) -> None:
        self.db.execute(
            "INSERT INTO transfers(command_id, ticket_id, at, counter, officer, from_area, to_area, to_counter, "
            "called_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (command_id, ticket["ticket_id"], iso(at), counter, officer, ticket["area"], to_area, to_counter,
             ticket["called_at"]))

    # ------------------------------------------------------------------ commands (idempotency)

    def command(self, command_id: str) -> sqlite3.Row | None:
        """The stored kind, digest and reply of a command id already applied."""
        return self.one("SELECT kind, digest, reply FROM commands WHERE command_id = ?", command_id)

    def record_command(self, command_id: str, kind: str, digest: str, reply_json: str, at: datetime,
                       ok: bool) -> None:
        self.db.execute(
            "INSERT INTO commands(command_id, kind, digest, reply, applied_at, ok) VALUES(?, ?, ?, ?, ?, ?)",
            (command_id, kind, digest, reply_json, iso(at), int(ok)))

    # ------------------------------------------------------------------ service day

    def unfinished_before(self, day: str) -> list[str]:
        """Ids of tickets of earlier days still in the queue (waiting, called or skipped)."""
        return [r["ticket_id"] for r in self.all(
            "SELECT ticket_id FROM tickets WHERE day < ? AND status IN ('waiting', 'called', 'skipped')", day)]

    def expire_ticket(self, ticket_id: str) -> None:
        self.db.execute("UPDATE tickets SET status = 'expired' WHERE ticket_id = ?", (ticket_id,))

    def ensure_counter(self, number: int, at: datetime) -> None:
        self.db.execute("INSERT OR IGNORE INTO counters(number, updated_at) VALUES(?, ?)", (number, iso(at)))

    def reset_counters(self, at: datetime) -> None:
        """A new day: no counter serves anyone, no rating window is open."""
        self.db.execute("UPDATE counters SET current = NULL, rating_ticket = NULL, rating_opened_at = NULL, "
                        "rating_closes_at = NULL, updated_at = ?", (iso(at),))

    def rating_windows_due(self, at: datetime) -> list[int]:
        """Counters whose rating window has closed by ``at``."""
        return [r["number"] for r in self.all(
            "SELECT number FROM counters WHERE rating_closes_at IS NOT NULL AND rating_closes_at <= ?", iso(at))]

    def prune(self, *, commands_before: datetime, refused_before: datetime, ratings_before: datetime,
              oldest_day: str, dossiers_before: datetime, events_before: datetime) -> dict[str, int]:
        """Delete by age; the caller holds the transaction. Returns rows removed per kind."""
        removed: dict[str, int] = {}

        def drop(name: str, sql: str, *args: Any) -> None:
            removed[name] = removed.get(name, 0) + self.db.execute(sql, args).rowcount

        drop("commands", "DELETE FROM commands WHERE applied_at < ?", iso(commands_before))
        drop("commands", "DELETE FROM commands WHERE ok = 0 AND applied_at < ?", iso(refused_before))
        drop("ratings", "DELETE FROM ratings WHERE received_at < ?", iso(ratings_before))
        drop("tickets", "DELETE FROM tickets WHERE day < ? AND ticket_id NOT IN "
                        "(SELECT rating_ticket FROM counters WHERE rating_ticket IS NOT NULL) AND ticket_id NOT IN "
                        "(SELECT current FROM counters WHERE current IS NOT NULL)", oldest_day)
        drop("sequences", "DELETE FROM sequences WHERE day < ?", oldest_day)
        drop("interleave", "DELETE FROM interleave WHERE day < ?", oldest_day)
        drop("dossiers", "DELETE FROM dossiers WHERE received_at < ?", iso(dossiers_before))
        drop("events", "DELETE FROM outbox WHERE enqueued_at < ?", iso(events_before))
        return removed

    # ------------------------------------------------------------------ tickets

    def last_number(self, day: str, area: str) -> int | None:
        return self.scalar("SELECT last_number FROM sequences WHERE day = ? AND area = ?", day, area)

    def set_last_number(self, day: str, area: str, number: int) -> None:
        self.db.execute("INSERT INTO sequences(day, area, last_number) VALUES(?, ?, ?) "
                        "ON CONFLICT(day, area) DO UPDATE SET last_number = excluded.last_number",
                        (day, area, number))

    def insert_ticket(self, *, ticket_id: str, day: str, area: str, number: str, priority: str | None,
                      queue_pos: int, issued_at: datetime, kiosk: str, dossier_code: str | None = None,
                      tracking_token: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO tickets(ticket_id, day, issue_area, area, number, priority, status, queue_pos, "
            "issued_at, kiosk, dossier_code, tracking_token) VALUES(?, ?, ?, ?, ?, ?, 'waiting', ?, ?, ?, ?, ?)",
            (ticket_id, day, area, area, number, priority, queue_pos, iso(issued_at), kiosk, dossier_code,
             tracking_token))

    def ticket_by_number(self, day: str, number: str) -> sqlite3.Row | None:
        return self.one("SELECT * FROM tickets WHERE day = ? AND number = ?", day, number)

    def cancel_ticket(self, ticket_id: str, at: datetime) -> None:
        self.db.execute("UPDATE tickets SET status = 'cancelled', finished_at = ? WHERE ticket_id = ?",
                        (iso(at), ticket_id))

    def count_recall(self, ticket_id: str) -> None:
        self.db.execute("UPDATE tickets SET call_count = call_count + 1 WHERE ticket_id = ?", (ticket_id,))

    def skip_ticket(self, ticket_id: str, at: datetime) -> None:
        self.db.execute("UPDATE tickets SET status = 'skipped', skipped_at = ? WHERE ticket_id = ?",
                        (iso(at), ticket_id))

    def requeue_reactivated(self, ticket_id: str, counter: int, queue_pos: int) -> None:
        self.db.execute(
            "UPDATE tickets SET status = 'waiting', target_counter = ?, queue_pos = ?, skipped_at = NULL "
            "WHERE ticket_id = ?", (counter, queue_pos, ticket_id))

    def requeue_transferred(self, ticket_id: str, area: str, target_counter: int | None, queue_pos: int) -> None:
        self.db.execute(
            "UPDATE tickets SET status = 'waiting', area = ?, target_counter = ?, queue_pos = ? WHERE ticket_id = ?",
            (area, target_counter, queue_pos, ticket_id))

    def attach_dossier(self, ticket_id: str, dossier_code: str) -> None:
        self.db.execute("UPDATE tickets SET dossier_code = ? WHERE ticket_id = ?", (dossier_code, ticket_id))

    def finish_ticket(self, ticket_id: str, at: datetime) -> None:
        self.db.execute("UPDATE tickets SET status = 'done', finished_at = ? WHERE ticket_id = ?", (iso(at), ticket_id))

    def call_ticket(self, ticket_id: str, counter: int, officer: str | None, at: datetime) -> None:
        self.db.execute("UPDATE tickets SET status = 'called', counter = ?, officer = ?, called_at = ?, "
                        "call_count = 1, target_counter = NULL WHERE ticket_id = ?",
                        (counter, officer, iso(at), ticket_id))

    # ------------------------------------------------------------------ the queue

    def front_queue_pos(self, day: str) -> int | None:
        """The smallest queue position of a ticket waiting today, if any."""
        return self.scalar("SELECT MIN(queue_pos) FROM tickets WHERE day = ? AND status = 'waiting'", day)

    def first_directed(self, day: str, counter: int) -> sqlite3.Row | None:
        """The oldest waiting ticket reserved for this counter."""
        return self.one("SELECT * FROM tickets WHERE day = ? AND status = 'waiting' AND target_counter = ? "
                        "ORDER BY queue_pos LIMIT 1", day, counter)

    _FIRST_IN_AREA = ("SELECT * FROM tickets WHERE day = ? AND area = ? AND status = 'waiting' "
                      "AND target_counter IS NULL AND priority IS {} NULL ORDER BY queue_pos LIMIT 1")
    _FIRST_NORMAL = _FIRST_IN_AREA.format("")
    _FIRST_PRIORITY = _FIRST_IN_AREA.format("NOT")

    def first_in_area(self, day: str, area: str, *, priority: bool) -> sqlite3.Row | None:
        """The oldest waiting ticket of an area's own queue, priority or normal."""
        return self.one(self._FIRST_PRIORITY if priority else self._FIRST_NORMAL, day, area)

    def normal_since_priority(self, day: str, area: str) -> int | None:
        return self.scalar("SELECT normal_since_priority FROM interleave WHERE day = ? AND area = ?", day, area)

    def count_for_interleave(self, day: str, area: str, priority: bool) -> None:
        """A ticket drawn from the area queue: a priority one restarts the count, a normal one adds one.
        The count stays NULL until the first priority call of the day."""
        self.db.execute("INSERT INTO interleave(day, area, normal_since_priority) VALUES(?, ?, ?) "
                        "ON CONFLICT(day, area) DO UPDATE SET normal_since_priority = "
                        "CASE WHEN ? THEN 0 ELSE normal_since_priority + 1 END",
                        (day, area, 0 if priority else None, priority))

    def count_waiting(self, day: str, area: str, *, priority_only: bool = False) -> int:
        sql = "SELECT COUNT(*) FROM tickets WHERE day = ? AND area = ? AND status = 'waiting'"
        if priority_only:
            sql += " AND priority IS NOT NULL"
        return int(self.scalar(sql, day, area))

    # ------------------------------------------------------------------ counters

    def counter(self, number: int) -> sqlite3.Row | None:
        return self.one("SELECT * FROM counters WHERE number = ?", number)

    def open_counter(self, number: int, officer: str, at: datetime) -> None:
        self.db.execute("UPDATE counters SET status = 'open', officer = ?, updated_at = ? WHERE number = ?",
                        (officer, iso(at), number))

    def close_counter(self, number: int, at: datetime) -> None:
        self.db.execute("UPDATE counters SET status = 'closed', officer = NULL, updated_at = ? WHERE number = ?",
                        (iso(at), number))

    def set_counter_status(self, number: int, status: str, at: datetime) -> None:
        self.db.execute("UPDATE counters SET status = ?, updated_at = ? WHERE number = ?", (status, iso(at), number))

    def set_current(self, number: int, ticket_id: str | None, at: datetime) -> None:
        self.db.execute("UPDATE counters SET current = ?, updated_at = ? WHERE number = ?",
                        (ticket_id, iso(at), number))

    def open_rating_window(self, number: int, ticket_id: str, opened: datetime, closes: datetime) -> None:
        """The ticket just finished; the counter serves nobody and its pad may rate it until ``closes``."""
        self.db.execute(
            "UPDATE counters SET current = NULL, rating_ticket = ?, rating_opened_at = ?, rating_closes_at = ?, "
            "updated_at = ? WHERE number = ?", (ticket_id, iso(opened), iso(closes), iso(opened), number))

    def close_rating_window(self, number: int, at: datetime) -> None:
        self.db.execute("UPDATE counters SET rating_ticket = NULL, rating_opened_at = NULL, "
                        "rating_closes_at = NULL, updated_at = ? WHERE number = ?", (iso(at), number))

    def open_counter_numbers(self) -> list[int]:
        return [r["number"] for r in self.all("SELECT number FROM counters WHERE status = 'open'")]

    # ------------------------------------------------------------------ ratings

    def rating_exists(self, rating_id: str) -> bool:
        return self.one("SELECT 1 FROM ratings WHERE rating_id = ?", rating_id) is not None

    def ticket_rated(self, ticket_id: str) -> bool:
        return self.one("SELECT 1 FROM ratings WHERE ticket_id = ?", ticket_id) is not None

    def insert_rating(self, *, rating_id: str, ticket_id: str | None, counter: int, officer: str | None,
                      area: str | None, dossier_code: str | None, level: str, reasons: list[str],
                      indicators: Any, rated_at: datetime, pad_id: str, received_at: datetime) -> None:
        self.db.execute(
            "INSERT INTO ratings(rating_id, ticket_id, counter, officer, area, dossier_code, level, reasons, "
            "indicators, rated_at, pad_id, received_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (rating_id, ticket_id, counter, officer, area, dossier_code, level, self.dumps(reasons),
             self.dumps(indicators) if indicators else None, iso(rated_at), pad_id, iso(received_at)))

    # ------------------------------------------------------------------ dossiers

    def upsert_dossier(self, code: str, record_json: str, updated_at: datetime, received_at: datetime) -> int:
        """Store a record unless a newer one is already kept; 1 if stored, else 0."""
        cur = self.db.execute(
            "INSERT INTO dossiers(code, record, updated_at, received_at) VALUES(?, ?, ?, ?) "
            "ON CONFLICT(code) DO UPDATE SET record = excluded.record, updated_at = excluded.updated_at, "
            "received_at = excluded.received_at WHERE excluded.updated_at >= dossiers.updated_at",
            (code, record_json, iso(updated_at), iso(received_at)))
        return cur.rowcount

    def dossier(self, code: str) -> sqlite3.Row | None:
        return self.one("SELECT record, received_at FROM dossiers WHERE code = ?", code)

    # ------------------------------------------------------------------ figures (the retained views)

    def waiting_in_area(self, day: str, area: str) -> tuple[int, int]:
        """(waiting, of which priority) in an area's queue today."""
        return self.count_waiting(day, area), self.count_waiting(day, area, priority_only=True)

    def last_called(self, day: str, area: str) -> str | None:
        return self.scalar("SELECT number FROM tickets WHERE day = ? AND area = ? AND called_at IS NOT NULL "
                           "ORDER BY called_at DESC LIMIT 1", day, area)

    def issued_in_area(self, day: str, area: str) -> int:
        return int(self.scalar("SELECT COUNT(*) FROM tickets WHERE day = ? AND issue_area = ?", day, area))

    def served_in_area(self, day: str, area: str) -> int:
        return int(self.scalar("SELECT COUNT(*) FROM tickets WHERE day = ? AND area = ? AND status = 'done'",
                               day, area))

    def recent_waits_min(self, day: str, area: str, limit: int) -> list[float]:
        """Minutes from issue to call of the area's last ``limit`` calls today, newest first."""
        return [r["w"] for r in self.all(
            "SELECT (julianday(called_at) - julianday(issued_at)) * 1440 AS w FROM tickets "
            "WHERE day = ? AND area = ? AND called_at IS NOT NULL ORDER BY called_at DESC LIMIT ?",
            day, area, limit)]

    def recent_service_min(self, area: str, limit: int) -> list[float]:
        """Minutes from call to finish of the area's last ``limit`` served tickets (any day), newest first."""
        return [r["s"] for r in self.all(
            "SELECT (julianday(finished_at) - julianday(called_at)) * 1440 AS s FROM tickets "
            "WHERE area = ? AND status = 'done' AND called_at IS NOT NULL ORDER BY finished_at DESC LIMIT ?",
            area, limit)]

    def count_tickets(self, day: str, status: str | None = None) -> int:
        if status is None:
            return int(self.scalar("SELECT COUNT(*) FROM tickets WHERE day = ?", day))
        return int(self.scalar("SELECT COUNT(*) FROM tickets WHERE day = ? AND status = ?", day, status))

    def average_wait_min(self, day: str) -> float | None:
        return self.scalar("SELECT AVG((julianday(called_at) - julianday(issued_at)) * 1440) FROM tickets "
                           "WHERE day = ? AND called_at IS NOT NULL", day)

    def rating_tally(self, day: str) -> tuple[int, int]:
        """(ratings given, of which satisfied or very satisfied) for today's tickets; not_rated left out."""
        row = self.one("SELECT COUNT(*) AS n, COALESCE(SUM(r.level IN ('very_satisfied', 'satisfied')), 0) AS good "
                       "FROM ratings r JOIN tickets t ON t.ticket_id = r.ticket_id "
                       "WHERE t.day = ? AND r.level != 'not_rated'", day)
        return (row["n"], row["good"]) if row else (0, 0)

    # ------------------------------------------------------------------ outbox

    def enqueue(self, topic: str, payload: bytes) -> None:
        self.db.execute("INSERT INTO outbox(topic, payload, enqueued_at) VALUES(?, ?, ?)",
                        (topic, payload, iso(datetime.now(timezone.utc))))

    def outbox(self, after: int = 0) -> list[sqlite3.Row]:
        """Events not yet known delivered, oldest first; ``after``: only those with a larger id."""
        return self.all("SELECT id, topic, payload FROM outbox WHERE id > ? ORDER BY id", after)

    def delivered(self, ids: list[int]) -> None:
        """Forget events the broker has acknowledged, in one transaction that does not wait for the
        disk: should the power fail before it gets there, the rows come back and go out once more,
        which every receiver already expects (at least once, repeats dropped by event_id). A keypad's
        command waiting behind this housekeeping would wait for nothing."""
        self.db.execute("PRAGMA synchronous = NORMAL")
        try:
            with self.transaction():
                self.db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
        finally:
            self.db.execute("PRAGMA synchronous = FULL")

    def dumps(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)
