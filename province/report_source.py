"""The province's rows as the hall reports' records: the leadership reports, computed by their own code.

The hall reports (package ``reports``) take plain records (tickets, ratings,
transfers) and return a Report; a hall reads them from its dispatcher's
SQLite file, the province from the collector's PostgreSQL tables here. Same
records, same code, so a province report over some halls is the sum of those
halls' own reports.

* tickets: ``ticket_outcomes``, one row per ended ticket (a ticket still
  waiting at the hall has not reached the province yet: a day is complete at
  the province once the hall's daily reset has expired what was left);
* ratings: ``ratings``, with the rated ticket's finish time (``served_at``);
* transfers: the ``transferred`` ticket events in the ``events`` archive.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

import psycopg

# a ticket's life, and the ratings of it, fall within a day or so of its issue
MARGIN = timedelta(days=2)

_TICKETS = """
SELECT site, ticket_id, issued_at, issue_area, area, outcome, counter, officer, called_at, finished_at, skipped_at,
       priority
FROM ticket_outcomes
WHERE day >= %(lo)s AND day <= %(hi)s {sites}
ORDER BY site, issued_at, ticket_id
"""
_RATINGS = """
SELECT r.site, r.rating_id, r.rated_at, r.received_at, r.level, r.counter, r.officer, r.area, r.ticket_id,
       o.finished_at, r.reasons, r.indicators
FROM ratings r LEFT JOIN ticket_outcomes o ON o.site = r.site AND o.ticket_id = r.ticket_id
WHERE r.received_at >= %(r_lo)s AND (r.rated_at < %(r_hi)s OR r.received_at < %(r_hi)s) {sites}
ORDER BY r.site, r.received_at, r.rating_id
"""
_TRANSFERS = """
SELECT site, at, (payload->>'counter')::int, payload->>'officer', payload->>'from_area',
       payload->'ticket'->>'ticket_id', (payload->'ticket'->>'called_at')::timestamptz,
       payload->'ticket'->>'area', (payload->'ticket'->>'target_counter')::int
FROM events
WHERE kind = 'ticket' AND payload->>'kind' = 'transferred' AND at >= %(lo_t)s AND at < %(hi_t)s {sites}
ORDER BY site, at, event_id
"""


def load_records(conn: psycopg.Connection, start: datetime, end: datetime, sites: Sequence[str] | None = None):
    """Every ticket, rating and transfer of ``sites`` (all when None) that may fall in ``[start, end)``."""
    from reports.records import RatingRecord, Records, TicketRecord, TransferRecord

    lo, hi = start - MARGIN, end + MARGIN
    args = {"lo": lo.date(), "hi": hi.date(), "lo_t": lo, "hi_t": hi, "r_lo": start - timedelta(days=1),
            "r_hi": end + timedelta(days=1), "sites": list(sites or [])}
    only = "AND {col} = ANY(%(sites)s)" if sites else ""
    out = Records()
    for (site, tid, issued, issue_area, area, status, counter, officer, called, finished, skipped,
         priority) in conn.execute(_TICKETS.format(sites=only.format(col="site")), args):
        out.tickets.append(TicketRecord(
            ticket_id=tid, issued_at=issued, issue_area=issue_area, area=area, status=status, counter=counter,
            officer=officer, called_at=called, finished_at=finished, skipped_at=skipped, priority=priority, site=site))
    for (site, rid, rated, received, level, counter, officer, area, tid, served, reasons,
         indicators) in conn.execute(_RATINGS.format(sites=only.format(col="r.site")), args):
        out.ratings.append(RatingRecord(
            rated_at=rated, received_at=received, level=level, counter=counter, officer=officer, area=area,
            ticket_id=tid, served_at=served, reasons=tuple(_json(reasons) or ()), indicators=_json(indicators),
            rating_id=rid, site=site))
    for (site, at, counter, officer, from_area, tid, called, area,
         to_counter) in conn.execute(_TRANSFERS.format(sites=only.format(col="site")), args):
        out.transfers.append(TransferRecord(
            at=at, counter=counter, officer=officer, from_area=from_area, ticket_id=tid, called_at=called,
            to_area=area, to_counter=to_counter, site=site))
    return out


def _json(value):
    return json.loads(value) if isinstance(value, str) else value
