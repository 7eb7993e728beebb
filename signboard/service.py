"""The signboard's MQTT wiring: calls and the notice in, frames out to the panel.

The signboard reads the dispatcher's call events and the central system's
retained notice, nothing else, and publishes only its own availability and
health. Handlers run on paho's thread and only update the model under the
lock; the panel thread draws.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

from motcua.protocol import AVAILABILITY_ONLINE, CallEvent, HallNotice, PayloadError, decode
from motcua.runtime import DeviceRuntime, Inbound, SystemdNotifier

from .config import SignboardSettings
from .device import PanelLoop, open_device
from .model import Frame, SignModel
from .render import SignPainter

log = logging.getLogger("signboard")


class SignboardService:
    def __init__(self, settings: SignboardSettings, device=None, notifier: SystemdNotifier | None = None):
        self.settings = settings
        self.runtime = DeviceRuntime(settings, "signboard", checks=self._checks, notifier=notifier)
        self.topics = t = self.runtime.topics
        self.painter = SignPainter(settings)
        self.model = SignModel(settings, self.painter.prepare, self.painter.measure)
        self.lock = threading.Condition(threading.RLock())
        self.device = device if device is not None else open_device(settings.panel)
        self.panel = PanelLoop(self.device, self.model.frame, self._render, self.model.next_change, self.lock)
        self._dispatcher_online = False

        self.runtime.on(t.call_event, CallEvent, self._on_call)
        self.runtime.on_raw(t.hall_notice, self._on_notice)
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

    def _on_call(self, event: CallEvent, inbound: Inbound) -> None:
        with self.lock:
            if self.model.call(event, time.monotonic()):
                self.lock.notify_all()

    def _on_notice(self, msg) -> None:
        if not msg.payload:  # an empty retained message clears the notice
            notice = None
        else:
            try:
                notice = decode(HallNotice, msg.payload, self.settings.mqtt.max_payload_bytes)
            except PayloadError as exc:
                self.runtime.last_error = f"refused message on {msg.topic}: {exc}"
                log.warning("refused message on %s: %s", msg.topic, exc)
                return
        with self.lock:
            if self.model.hall_notice(notice, time.monotonic()):
                self.lock.notify_all()

    def _on_dispatcher(self, msg) -> None:
        self._dispatcher_online = msg.payload == AVAILABILITY_ONLINE

    # ------------------------------------------------------------------ for tests and health

    def wait_frame(self, predicate: Callable[[Frame], bool], timeout: float) -> bool:
        return self.panel.wait_frame(predicate, timeout)

    def now_showing(self) -> Frame:
        with self.lock:
            return self.model.frame(time.monotonic(), datetime.now(timezone.utc))

    def _checks(self) -> dict[str, str]:
        return {"panel": self.panel.status,
                "dispatcher": "ok" if self._dispatcher_online else "degraded: dispatcher unreachable"}
