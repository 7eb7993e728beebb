"""How much one login may ask of the dispatcher: a token bucket per login and kind of request.

A kiosk issuing numbers, a pad sending ratings, a keypad calling: each has a
burst (what a busy moment needs) and a steady rate (what a whole day needs).
Beyond that the request is refused with ``rate_limited`` before anything is
written, so one compromised or broken device can neither empty an area's
numbers in a second nor fill the disk with refusals. Pure: the clock is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from motcua.settings import StrictModel


class Limit(StrictModel):
    burst: int = Field(ge=1, le=100000, description="Requests allowed at once after a quiet spell.")
    per_minute: float = Field(gt=0, le=100000, description="Steady rate the bucket refills at.")


class RateLimits(StrictModel):
    """Per login. Defaults fit a busy hall (1,500 tickets a day over two kiosks) with room to spare."""

    ticket_issue: Limit = Limit(burst=20, per_minute=12)
    ticket_cancel: Limit = Limit(burst=5, per_minute=2)
    dossier_lookup: Limit = Limit(burst=20, per_minute=30)
    rating: Limit = Limit(burst=20, per_minute=12)
    counter_command: Limit = Limit(burst=120, per_minute=600)


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    def __init__(self, limits: RateLimits, max_logins: int = 10000):
        self.limits = limits
        self.max_logins = max_logins
        self._buckets: dict[tuple[str, str], _Bucket] = {}

    def take(self, kind: str, login: str, now: float) -> float | None:
        """Spend one token; None when allowed, else the seconds until the next one."""
        limit: Limit = getattr(self.limits, kind)
        key = (kind, login)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_logins:  # logins come from the broker's registry: bounded anyway
                self._buckets.clear()
            bucket = self._buckets[key] = _Bucket(float(limit.burst), now)
        rate = limit.per_minute / 60.0
        bucket.tokens = min(float(limit.burst), bucket.tokens + max(0.0, now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / rate
