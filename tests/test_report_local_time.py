"""Local hours and days of many instants at once: the report's arithmetic on epoch seconds gives
what zoneinfo gives instant by instant, in Vietnam (UTC+7 all year: one addition) and in a zone
whose clocks change (offsets looked up per quarter hour on the days they change)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from reports.core import _Local


def _by_zoneinfo(zone: str, t: np.ndarray) -> np.ndarray:
    tz = ZoneInfo(zone)
    return np.array([t_ + datetime.fromtimestamp(t_, tz).utcoffset().total_seconds() for t_ in t.tolist()])


@pytest.mark.parametrize("zone, constant", [("Asia/Ho_Chi_Minh", 7 * 3600), ("Europe/Berlin", None),
                                            ("America/Sao_Paulo", -3 * 3600), ("Australia/Lord_Howe", None)])
def test_local_time_of_many_instants_is_zoneinfos(zone, constant):
    start = datetime(2025, 1, 1, tzinfo=timezone.utc).timestamp()
    end = datetime(2026, 1, 1, tzinfo=timezone.utc).timestamp()
    local = _Local(zone, start, end)
    assert local.constant == constant  # Brazil has had no summer time since 2019
    rng = np.random.default_rng(7)
    t = np.floor(rng.uniform(start - 2 * 86400, end + 2 * 86400, 20_000))
    # and every minute of the days around the changes of 2025 (Berlin: 30 March and 26 October;
    # Lord Howe moves its clocks by half an hour)
    for day in ("2025-03-30", "2025-10-26", "2025-04-06", "2025-10-05"):
        d0 = datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp() - 86400
        t = np.concatenate([t, np.arange(d0, d0 + 3 * 86400, 60.0)])
    assert np.array_equal(local(t), _by_zoneinfo(zone, t))
    hours = (np.floor(local(t) / 3600) % 24).astype(int)
    assert hours.tolist() == [datetime.fromtimestamp(x, ZoneInfo(zone)).hour for x in t.tolist()]
