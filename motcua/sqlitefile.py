"""A daemon's own SQLite file, opened and written the one way every daemon does it.

The boxes lose power without warning, so each file is in WAL mode with ``synchronous=FULL``: a
commit that has returned is on the card. Connections are in autocommit mode (``isolation_level=None``)
so that a transaction is exactly what :func:`transaction` begins: ``BEGIN IMMEDIATE`` takes the write
lock at the start (two writers never both read and then both try to upgrade), and anything raised
inside rolls all of it back. What each daemon keeps in its file (the dispatcher's event outbox, the
pad's ratings, the one-stop adapter's pushes) stays with the daemon: only the file's discipline is shared.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def open_database(path: Path | str, *, timeout: float = 5.0, foreign_keys: bool = False) -> sqlite3.Connection:
    """A connection for any thread (the owner serialises access), rows readable by column name."""
    if str(path) != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=timeout)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    if foreign_keys:
        db.execute("PRAGMA foreign_keys=ON")
    return db


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """All of it on disk, or none of it."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
