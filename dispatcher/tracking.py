"""What a citizen's page needs, published for pages served away from the hall's database.

The hall's own web service reads the dispatcher's database; the province's
reads only bridged topics. For it the dispatcher publishes, retained, each
ticket of the day under its tracking key (``track/{key}``: a hash of the
token in the QR code, never the token) and each area's waiting queue by
tracking key only (``area/{code}/queue``), so the page can say how many are
ahead by the dispatcher's own rules. Neither carries the ticket id, the
officer or a dossier code: the bridge takes them to the province as they are.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable
from datetime import date

from motcua.protocol import AreaQueue, QueuePlace, TicketTrack, tracking_key

from .store import Store, required_dt


#: How many tickets' keys (and queue entries) are remembered: a few days of a busy hall. The tick
#: republishes pages and whole queues every second; hashing and modelling thousands of tickets
#: again each time held the interpreter long enough to hold up keypads' calls behind it.
KEYS_REMEMBERED = 16384

key_of = functools.lru_cache(maxsize=KEYS_REMEMBERED)(tracking_key)

#: Tickets read per query when the tick gathers the changed ones (well under SQLite's bound on
#: parameters).
TICKETS_PER_QUERY = 500


def ticket_tracks(store: Store, ticket_ids: Iterable[str]) -> list[tuple[str, TicketTrack]]:
    """(tracking key, what the page shows) of each of these tickets that has a token, in queue order:
    one query per few hundred tickets rather than one per ticket."""
    ids = sorted(set(ticket_ids))
    rows: list[sqlite3.Row] = []
    for start in range(0, len(ids), TICKETS_PER_QUERY):
        chunk = ids[start:start + TICKETS_PER_QUERY]
        rows += store.all(f"SELECT * FROM tickets WHERE ticket_id IN ({','.join('?' * len(chunk))})", *chunk)
    rows.sort(key=lambda row: (row["day"], row["queue_pos"], row["ticket_id"]))
    return [t for t in map(track_of, rows) if t is not None]


def track_of(row: sqlite3.Row) -> tuple[str, TicketTrack] | None:
    token = row["tracking_token"]
    if not token:
        return None  # issued before tokens existed: nothing printed links to it
    return key_of(token), TicketTrack(
        day=date.fromisoformat(row["day"]), number=row["number"], area=row["area"], status=row["status"],
        priority=row["priority"] is not None, target_counter=row["target_counter"], counter=row["counter"],
        call_count=row["call_count"], transferred=row["area"] != row["issue_area"],
        issued_at=required_dt(row["issued_at"]))


def tracks_of_day(store: Store, day: str) -> list[tuple[str, TicketTrack]]:
    """Every ticket of the day with a token: republished after each (re)connection."""
    rows = store.all("SELECT * FROM tickets WHERE day = ? AND tracking_token IS NOT NULL ORDER BY queue_pos", day)
    return [t for t in map(track_of, rows) if t is not None]


def area_queue(store: Store, day: str, area: str) -> bytes:
    """The area's waiting tickets in queue order by tracking key: an ``AreaQueue``, as its JSON.

    A busy area has thousands waiting and the tick republishes its queue every second, so the
    entries are not rebuilt each time: each waiting ticket's entry is the model's own JSON,
    remembered, and the model's envelope takes them in (a test pins it equal to the whole model's
    JSON). Built whole, a queue of 2,700 held the interpreter 10–25 ms a second, and keypads' calls
    waited behind it."""
    rows = store.all("SELECT tracking_token, priority IS NOT NULL, target_counter FROM tickets "
                     "WHERE day = ? AND area = ? AND status = 'waiting' AND tracking_token IS NOT NULL "
                     "ORDER BY queue_pos LIMIT ?", day, area, QUEUE_PLACES)
    envelope = AreaQueue(area=area, day=date.fromisoformat(day)).to_json()
    places = b",".join([_place_json(r[0], bool(r[1]), r[2]) for r in rows])
    return envelope.replace(_NO_PLACES, b'"waiting":[' + places + b"]", 1)


#: The most waiting tickets a queue message carries (the model's bound); a ticket further back is
#: left out, rather than the whole queue failing to go out.
QUEUE_PLACES = AreaQueue.model_fields["waiting"].metadata[0].max_length

_NO_PLACES = b'"waiting":[]'


@functools.lru_cache(maxsize=KEYS_REMEMBERED)
def _place_json(token: str, priority: bool, target_counter: int | None) -> bytes:
    return QueuePlace(key=key_of(token), priority=priority, target_counter=target_counter).to_json()
