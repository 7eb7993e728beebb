"""How long a citizen will wait: people ahead, recent service times, open counters.

Read-only over the store; used for the ticket's printed estimate and the area summaries.
"""

from __future__ import annotations

import math

from .config import CounterConfig, QueueRules
from .store import Store


class Estimates:
    def __init__(self, store: Store, rules: QueueRules, counters: dict[int, CounterConfig]):
        self.store = store
        self.rules = rules
        self.counters = counters

    def waiting_ahead(self, day: str, area: str, priority: str | None) -> int:
        # a priority ticket only waits behind other priority tickets of its area
        return self.store.count_waiting(day, area, priority_only=priority is not None)

    def open_counters(self, area: str) -> int:
        # a counter left open in the database but since removed from the settings serves nothing
        return sum(1 for n in self.store.open_counter_numbers()
                   if n in self.counters and area in self.counters[n].areas)

    def average_service_min(self, area: str) -> float | None:
        times = self.store.recent_service_min(area, self.rules.service_time_samples)
        return sum(times) / len(times) if times else None

    def wait_min(self, area: str, ahead: int) -> int:
        per_ticket = self.average_service_min(area) or self.rules.default_service_min
        return math.ceil(ahead * per_ticket / max(1, self.open_counters(area)))
