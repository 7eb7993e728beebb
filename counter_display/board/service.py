"""The hall board's MQTT wiring: read-only subscriptions into the model, change notifications out.

The board publishes nothing but its own availability and health. Handlers
run on paho's thread and only update the model under a lock; the screen
thread draws.
"""

from __future__ import annotations

import time

from motcua.protocol import (
    AVAILABILITY_ONLINE,
    AreaSummary,
    CallEvent,
    CounterState,
    DossierStatusUpdate,
    HallConfig,
    HallFigures,
    HallNotice,
)
from motcua.runtime import DeviceRuntime, SystemdNotifier
from motcua.screen_service import ScreenService, TimedView

from .config import BoardSettings
from .model import BoardModel, BoardView


class BoardService(TimedView, ScreenService):
    def __init__(self, settings: BoardSettings, notifier: SystemdNotifier | None = None):
        self.settings = settings
        self.runtime = DeviceRuntime(settings, "board", checks=self._checks, notifier=notifier)
        self.topics = t = self.runtime.topics
        self.model = BoardModel(settings)
        self._init_screen()
        self._dispatcher_online = False

        rt = self.runtime
        rt.on(t.hall_config, HallConfig, self._locked(lambda m, i: self.model.hall_config(m) or True))
        rt.on(t.call_event, CallEvent, self._locked(lambda m, i: self.model.call(m, time.monotonic())))
        rt.on(f"{t.root}/counter/+/state", CounterState, self._locked(lambda m, i: self.model.counter_state(m)))
        rt.on(f"{t.root}/area/+/summary", AreaSummary, self._locked(lambda m, i: self.model.area_summary(m)))
        rt.on(t.dossier_status, DossierStatusUpdate, self._locked(lambda m, i: self.model.dossiers(m)))
        rt.on(t.hall_figures, HallFigures, self._locked(lambda m, i: self.model.hall_figures(m)))
        rt.on_retained(t.hall_notice, HallNotice, self._locked(self.model.hall_notice))  # None: cleared
        rt.on_raw(t.availability(settings.dispatcher_id), self._on_dispatcher)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> BoardService:
        self.runtime.start()
        self.runtime.every(1.0, self._watch_link, "link")
        return self

    def stop(self) -> None:
        self.runtime.stop()

    # ------------------------------------------------------------------ raw topics

    def _on_dispatcher(self, msg) -> None:
        self._dispatcher_online = msg.payload == AVAILABILITY_ONLINE
        self._watch_link()

    def _watch_link(self) -> None:
        with self._lock:
            if self.model.link(self.runtime.connected and self._dispatcher_online):
                self._notify()

    # ------------------------------------------------------------------ for the screen and tests

    @property
    def view(self) -> BoardView:
        return self.view_at()

    def _checks(self) -> dict[str, str]:
        return {"screen": self.screen_check(),
                "dispatcher": "ok" if self._dispatcher_online else "degraded: dispatcher unreachable"}
