-- The dispatcher database as motcua first shipped it (schema version 1, no user_version),
-- kept to test the forward migrations from it.

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
