"""What the adapter needs from a province's one-stop software: three calls, nothing else.

A province connects its vendor's system by configuration of the reference
HTTP/JSON implementation (:mod:`onestop.http`), or by one small module that
implements :class:`OneStopSystem` and is named in the settings
(``system = "package.module:Class"``). See docs/onestop.md.

Errors: raise :class:`OneStopUnavailable` for anything worth retrying
(timeouts, refused connections, 5xx, 429) and :class:`OneStopRejected` when
the system refused the request itself (4xx): the adapter keeps retrying the
first kind and records the second with its reason, never dropping either.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from motcua.protocol import RatingEvent
from motcua.protocol.messages import DossierRecord


class OneStopError(Exception):
    """A call to the one-stop software failed; ``str()`` says why, for the log and the outbox."""


class OneStopUnavailable(OneStopError):
    """Try again later: the system did not answer, answered too slowly, or said it is overloaded."""


class OneStopRejected(OneStopError):
    """The system refused this request; retrying the same request will not help."""


@runtime_checkable
class OneStopSystem(Protocol):
    name: str

    def statuses(self, codes: Sequence[str]) -> list[DossierRecord]:
        """The current status of these dossiers; codes the system does not know are left out."""

    def changed_since(self, agency: str, since: datetime) -> Iterator[DossierRecord]:
        """Every dossier of the hall ``agency`` changed at or after ``since``, page after page."""

    def push_rating(self, site: str, agency: str, rating: RatingEvent) -> None:
        """Record one accepted rating of hall ``site`` (``agency`` in the system). Must be idempotent on ``(site, rating.rating_id)``:
        the adapter retries until it hears success, so the system may see a push twice."""
