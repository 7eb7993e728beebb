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

import sqlite3
from datetime import date

from motcua.protocol import AreaQueue, QueuePlace, TicketTrack, tracking_key

from .store import Store, required_dt


def ticket_track(store: Store, ticket_id: str) -> tuple[str, TicketTrack] | None:
    """(tracking key, what the page shows) of one ticket; None for a ticket without a token."""
    row = store.ticket(ticket_id)
    return None if row is None else track_of(row)


def track_of(row: sqlite3.Row) -> tuple[str, TicketTrack] | None:
    token = row["tracking_token"]
    if not token:
        return None  # issued before tokens existed: nothing printed links to it
    return tracking_key(token), TicketTrack(
        day=date.fromisoformat(row["day"]), number=row["number"], area=row["area"], status=row["status"],
        priority=row["priority"] is not None, target_counter=row["target_counter"], counter=row["counter"],
        call_count=row["call_count"], transferred=row["area"] != row["issue_area"],
        issued_at=required_dt(row["issued_at"]))


def tracks_of_day(store: Store, day: str) -> list[tuple[str, TicketTrack]]:
    """Every ticket of the day with a token: republished after each (re)connection."""
    rows = store.all("SELECT * FROM tickets WHERE day = ? AND tracking_token IS NOT NULL ORDER BY queue_pos", day)
    return [t for t in map(track_of, rows) if t is not None]


def area_queue(store: Store, day: str, area: str) -> AreaQueue:
    rows = store.all("SELECT tracking_token, priority IS NOT NULL, target_counter FROM tickets "
                     "WHERE day = ? AND area = ? AND status = 'waiting' AND tracking_token IS NOT NULL "
                     "ORDER BY queue_pos", day, area)
    return AreaQueue(area=area, day=date.fromisoformat(day), waiting=[
        QueuePlace(key=tracking_key(r[0]), priority=bool(r[1]), target_counter=r[2]) for r in rows])
