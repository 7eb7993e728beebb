"""The dossier-progress screen's MQTT wiring: read-only subscriptions into the model.

It reads the central system's retained ``dossier/progress``, the hall's
``dossier/status`` stream and ``hall/config`` (the hall's name), and publishes
only its own availability and health. Handlers run on paho's thread and only
update the model under a lock; the screen thread draws.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from motcua.protocol import DossierProgress, DossierStatusUpdate, HallConfig, PayloadError, decode
from motcua.runtime import DeviceRuntime, Inbound, SystemdNotifier

from .config import ProgressSettings
from .model import ProgressModel, ProgressView

log = logging.getLogger("progress_board")


class ProgressService:
    def __init__(self, settings: ProgressSettings, notifier: SystemdNotifier | None = None):
        self.settings = settings
        self.runtime = DeviceRuntime(settings, "progress", checks=self._checks, notifier=notifier)
        self.topics = t = self.runtime.topics
        self.model = ProgressModel(settings)
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self.on_change: Callable[[], None] = lambda: None
        self.screen_status = "ok"
        self.screen_beat: float | None = None

        rt = self.runtime
        rt.on(t.hall_config, HallConfig, self._locked(lambda m, i: self.model.hall_config(m)))
        rt.on(t.dossier_status, DossierStatusUpdate, self._locked(lambda m, i: self.model.dossiers(m)))
        rt.on_raw(t.dossier_progress, self._on_progress)

    def _locked(self, apply: Callable[[object, Inbound], bool]) -> Callable[[object, Inbound], None]:
        def handler(message, inbound: Inbound) -> None:
            with self.lock:
                if apply(message, inbound):
                    self._notify()
        return handler

    def _notify(self) -> None:
        self.on_change()
        self._changed.notify_all()

    def start(self) -> ProgressService:
        self.runtime.start()
        self.runtime.every(1.0, self._watch_link, "link")
        return self

    def stop(self) -> None:
        self.runtime.stop()

    def _on_progress(self, msg) -> None:
        if not msg.payload:  # an empty retained message clears the figures
            summary = None
        else:
            try:
                summary = decode(DossierProgress, msg.payload, self.settings.mqtt.max_payload_bytes)
            except PayloadError as exc:
                self.runtime.last_error = f"refused message on {msg.topic}: {exc}"
                log.warning("refused message on %s: %s", msg.topic, exc)
                return
        with self.lock:
            if self.model.progress(summary):
                self._notify()

    def _watch_link(self) -> None:
        with self.lock:
            if self.model.link(self.runtime.connected):
                self._notify()

    # ------------------------------------------------------------------ for the screen and tests

    def view(self, now: float | None = None, wall: datetime | None = None) -> ProgressView:
        with self.lock:
            return self.model.view(time.monotonic() if now is None else now, wall or datetime.now(timezone.utc))

    def next_deadline(self) -> float:
        with self.lock:
            return self.model.next_deadline(time.monotonic(), datetime.now(timezone.utc))

    def wait_for(self, predicate: Callable[[ProgressView], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self.view()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))
            return True

    def _checks(self) -> dict[str, str]:
        screen = self.screen_status
        if self.screen_beat is not None and time.monotonic() - self.screen_beat > 90:
            screen = f"fault: screen loop stalled for {time.monotonic() - self.screen_beat:.0f} s"
        figures = "ok" if self.model.summary is not None else "degraded: no figures from the central system yet"
        return {"screen": screen, "figures": figures}
