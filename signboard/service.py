"""The signboard's MQTT wiring: calls and the notice in, frames out to the panel.

The signboard reads the dispatcher's call events and the central system's
retained notice, nothing else, and publishes only its own availability and
health. Handlers run on paho's thread and only update the model under the
lock; the panel thread draws.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

from motcua.protocol import AVAILABILITY_ONLINE, CallEvent, HallNotice
from motcua.runtime import DeviceRuntime, SystemdNotifier
from motcua.screen_service import LockedModel

from .config import SignboardSettings
from .device import PanelLoop, open_device
from .model import Frame, SignModel
from .render import SignPainter


class SignboardService(LockedModel):
    def __init__(self, settings: SignboardSettings, device=None, notifier: SystemdNotifier | None = None):
        self.settings = settings
        self.runtime = DeviceRuntime(settings, "signboard", checks=self._checks, notifier=notifier)
        self.topics = t = self.runtime.topics
        self.painter = SignPainter(settings)
        self.model = SignModel(settings, self.painter.prepare, self.painter.measure)
        self._init_lock()
        self.lock = self._changed  # the panel thread sleeps on it until the model changes
        self.device = device if device is not None else open_device(settings.panel)
        self.panel = PanelLoop(self.device, self.model.frame, self._render, self.model.next_change, self._changed)
        self._dispatcher_online = False

        self.runtime.on(t.call_event, CallEvent, self._locked(lambda m, i: self.model.call(m, time.monotonic())))
        self.runtime.on_retained(t.hall_notice, HallNotice,  # None: the notice was cleared
                                 self._locked(lambda notice: self.model.hall_notice(notice, time.monotonic())))
        self.runtime.on_raw(t.availability(settings.dispatcher_id), self._on_dispatcher)

    def _render(self, frame: Frame):
        return self.painter.render(frame.text, frame.offset)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SignboardService:
        self.runtime.start()
        self.panel.start()
        self.runtime.ready(f"signboard {self.settings.device_id}: {self.settings.panel.width}x"
                           f"{self.settings.panel.height} LEDs, " + ("Vietnamese" if self.painter.marks else "ASCII"))
        return self

    def stop(self) -> None:
        self.runtime.stop()
        self.panel.stop()

    # ------------------------------------------------------------------ inbound

    def _on_dispatcher(self, msg) -> None:
        self._dispatcher_online = msg.payload == AVAILABILITY_ONLINE

    # ------------------------------------------------------------------ for tests and health

    def wait_frame(self, predicate: Callable[[Frame], bool], timeout: float) -> bool:
        return self.panel.wait_frame(predicate, timeout)

    def now_showing(self) -> Frame:
        with self._lock:
            return self.model.frame(time.monotonic(), datetime.now(timezone.utc))

    def _checks(self) -> dict[str, str]:
        return {"panel": self.panel.status,
                "dispatcher": "ok" if self._dispatcher_online else "degraded: dispatcher unreachable"}
