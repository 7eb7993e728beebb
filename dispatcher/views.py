"""The retained views: what the dispatcher publishes for the hall to read.

Each view is built from the store as it is now (inside the caller's lock) and
carries no history; the service publishes it retained. Counter states are read
by the public TV: dossier codes and officer ids stay out of them unless the
hall's settings (``hall.public``) say otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from motcua.protocol import (
    AreaInfo,
    AreaSummary,
    CategoryInfo,
    CounterInfo,
    CounterState,
    DispatcherState,
    HallConfig,
    HallFigures,
    ProcedureInfo,
    RatingWindow,
    Topics,
)

from .config import HallSettings
from .estimates import Estimates
from .store import Store, required_dt


class Views:
    def __init__(self, settings: HallSettings, store: Store, topics: Topics, estimates: Estimates,
                 service_day: Callable[[datetime], date], clock: Callable[[], datetime]):
        self.cfg = settings
        self.store = store
        self.topics = topics
        self.estimates = estimates
        self.service_day = service_day
        self.clock = clock
        self.areas = {a.code: a for a in settings.areas}
        self.counters = {c.number: c for c in settings.counters}
        self.officers = {o.id: o.name for o in settings.officers}

    def day(self) -> str:
        """The service day the database is in (its rollover is the writer's)."""
        return self.store.meta("day") or self.service_day(self.clock()).isoformat()

    def hall_config(self) -> HallConfig:
        c = self.cfg
        return HallConfig(
            site=self.topics.site, hall_name=c.name,
            areas=[AreaInfo(code=a.code, name=a.name, prefix=a.prefix, first_number=a.first_number,
                            last_number=a.last_number) for a in c.areas],
            counters=[CounterInfo(number=k.number, name=k.display_name, areas=k.areas) for k in c.counters],
            priority_categories=[CategoryInfo(code=p.code, name=p.name) for p in c.priority_categories],
            procedures=[ProcedureInfo(**p.model_dump()) for p in c.procedures],
            day=self.service_day(self.clock()),
        )

    def counter_state(self, number: int) -> CounterState:
        row = self.store.counter(number)
        assert row is not None, f"counter {number} has no row"  # every configured counter gets one at start
        cfg = self.counters[number]
        current = self.store.ticket(row["current"])
        public = self.cfg.public
        window = None
        if row["rating_ticket"]:
            t = self.store.ticket(row["rating_ticket"])
            assert t is not None  # pruning keeps a ticket whose rating window is open
            window = RatingWindow(ticket_id=t["ticket_id"], number=t["number"], area=t["area"],
                                  officer=t["officer"] if public.officer_ids else None,
                                  dossier_code=t["dossier_code"] if public.dossier_codes else None,
                                  opened_at=required_dt(row["rating_opened_at"]),
                                  closes_at=required_dt(row["rating_closes_at"]))
        shown = self.store.to_ticket(current) if current else None
        if shown is not None and not public.dossier_codes:
            shown = shown.model_copy(update={"dossier_code": None})
        name = self.officers.get(row["officer"]) if row["officer"] else None
        return CounterState(
            counter=number, name=cfg.display_name, status=row["status"],
            officer=row["officer"] if public.officer_ids else None,
            officer_name=name, current=shown, rating_window=window, updated_at=required_dt(row["updated_at"]),
        )

    def area_summary(self, code: str) -> AreaSummary:
        s, day, area = self.store, self.day(), self.areas[code]
        waiting, waiting_priority = s.waiting_in_area(day, code)
        waits = s.recent_waits_min(day, code, self.cfg.rules.service_time_samples)
        avg_wait = round(sum(waits) / len(waits), 1) if waits else None
        avg_service = self.estimates.average_service_min(code)
        return AreaSummary(area=code, name=area.name, waiting=waiting, waiting_priority=waiting_priority,
                           last_called=s.last_called(day, code), issued_today=s.issued_in_area(day, code),
                           served_today=s.served_in_area(day, code),
                           open_counters=self.estimates.open_counters(code), average_wait_min=avg_wait,
                           average_service_min=round(avg_service, 1) if avg_service is not None else None)

    def dispatcher_state(self, database: str, started_at: datetime) -> DispatcherState:
        s, day = self.store, self.day()
        return DispatcherState(
            day=date.fromisoformat(day), database=database, started_at=started_at,
            issued_today=s.count_tickets(day), waiting=s.count_tickets(day, "waiting"),
            served_today=s.count_tickets(day, "done"),
        )

    def hall_figures(self) -> HallFigures:
        """Today's figures for the whole hall. Satisfaction counts ratings of today's tickets."""
        s, day = self.store, self.day()
        wait = s.average_wait_min(day)
        rated, good = s.rating_tally(day)
        return HallFigures(
            day=date.fromisoformat(day),
            issued_today=s.count_tickets(day), served_today=s.count_tickets(day, "done"),
            waiting=s.count_tickets(day, "waiting"),
            average_wait_min=round(wait, 1) if wait is not None else None,
            ratings_today=rated,
            satisfied_pct=round(100.0 * good / rated, 1) if rated else None,
        )
