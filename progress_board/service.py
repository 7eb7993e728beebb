"""The dossier-progress screen's MQTT wiring: read-only subscriptions into the model.

It reads the central system's retained ``dossier/progress``, the hall's
``dossier/status`` stream and ``hall/config`` (the hall's name), and publishes
only its own availability and health. Handlers run on paho's thread and only
update the model under a lock; the screen thread draws.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from motcua.protocol import DossierProgress, DossierStatusUpdate, HallConfig
from motcua.runtime import DeviceRuntime, SystemdNotifier
from motcua.screen_service import TimedView

from .config import ProgressSettings
from .model import ProgressModel, ProgressView


class ProgressService(TimedView):
    screen_stall_s = 90.0  # the watchdog's limit for a screen loop that stopped beating

    def __init__(self, settings: ProgressSettings, notifier: SystemdNotifier | None = None):
        self.settings = settings
        self.runtime = DeviceRuntime(settings, "progress", checks=self._checks, notifier=notifier)
        self.topics = t = self.runtime.topics
        self.model = ProgressModel(settings)
        self._init_lock()
        self.lock = self._lock
        self.on_change: Callable[[], None] = lambda: None
        self.screen_status = "ok"
        self.screen_beat: float | None = None

        rt = self.runtime
        rt.on(t.hall_config, HallConfig, self._locked(lambda m, i: self.model.hall_config(m)))
        rt.on(t.dossier_status, DossierStatusUpdate, self._locked(lambda m, i: self.model.dossiers(m)))
        rt.on_retained(t.dossier_progress, DossierProgress, self._locked(self.model.progress))  # None: cleared

    def _notify(self) -> None:
        self.on_change()
        super()._notify()

    def start(self) -> ProgressService:
        self.runtime.start()
        self.runtime.every(1.0, self._watch_link, "link")
        return self

    def stop(self) -> None:
        self.runtime.stop()

    def _watch_link(self) -> None:
        with self._lock:
            if self.model.link(self.runtime.connected):
                self._notify()

    # ------------------------------------------------------------------ for the screen and tests

    def view(self, now: float | None = None, wall: datetime | None = None) -> ProgressView:
        return self.view_at(now, wall)

    def wait_for(self, predicate: Callable[[ProgressView], bool], timeout: float) -> bool:
        return self._wait_until(lambda: predicate(self.view()), timeout)

    def _checks(self) -> dict[str, str]:
        screen = self.screen_status
        if self.screen_beat is not None and time.monotonic() - self.screen_beat > self.screen_stall_s:
            screen = f"fault: screen loop stalled for {time.monotonic() - self.screen_beat:.0f} s"
        figures = "ok" if self.model.summary is not None else "degraded: no figures from the central system yet"
        return {"screen": screen, "figures": figures}
