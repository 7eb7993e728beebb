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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from motcua.protocol import Ticket

# The database's own version (PRAGMA user_version). SCHEMA below is version 1 as it first
# shipped; every later change is a forward migration in MIGRATIONS, applied in order on open,
# each in its own transaction. Readers of this file (reports) may check the version.
SCHEMA_VERSION = 2

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
}


class SchemaError(RuntimeError):
    """The database was written by a newer motcua: refuse rather than guess."""


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(timezone.utc).isoformat() if dt else None


def parse_dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class Store:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=5)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.migrate()

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
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in filter(str.strip, MIGRATIONS[version].split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version = {version}")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One command, one transaction: all of it on disk, or none of it."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

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
            priority=row["priority"], status=row["status"], issued_at=parse_dt(row["issued_at"]),
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

    # ------------------------------------------------------------------ outbox

    def enqueue(self, topic: str, payload: bytes) -> None:
        self.db.execute("INSERT INTO outbox(topic, payload, enqueued_at) VALUES(?, ?, ?)",
                        (topic, payload, iso(datetime.now(timezone.utc))))

    def outbox(self) -> list[sqlite3.Row]:
        return self.all("SELECT id, topic, payload FROM outbox ORDER BY id")

    def delivered(self, ids: list[int]) -> None:
        self.db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])

    def dumps(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)
