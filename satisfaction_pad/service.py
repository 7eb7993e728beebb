"""The pad's MQTT wiring and its delivery loop.

* The counter's retained state comes in on paho's thread and goes into the
  model (under a lock: the screen thread taps into the same model).
* A delivery thread sends every outbox rating to the dispatcher and waits for
  its acknowledgement; it removes a rating only when the dispatcher has
  acknowledged that rating id (a duplicate acknowledgement counts: the
  dispatcher already has it). Offline, it waits and tries again, oldest
  first, with the same rating ids.
"""

from __future__ import annotations

import logging
import threading
import time

from announcer.touch import TouchSounds
from motcua.protocol import CounterState, Rating, RatingAck
from motcua.runtime import DeviceRuntime, Inbound, RequestFailed, SystemdNotifier
from motcua.screen_service import ScreenService

from .config import PadSettings
from .model import PadModel, View
from .outbox import Outbox

log = logging.getLogger("satisfaction_pad")


class PadService(ScreenService):
    def __init__(self, settings: PadSettings, notifier: SystemdNotifier | None = None):
        self.settings = settings
        self.outbox = Outbox(settings.outbox)
        self.runtime = DeviceRuntime(settings, "satisfaction_pad", checks=self._checks, notifier=notifier)
        self.topics = self.runtime.topics
        self._init_screen()  # the lock, on_view_change, the screen's health
        self.sounds = TouchSounds(settings.sound)
        self.on_touch = self.sounds.touched
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self.model = PadModel(settings, self.outbox, on_recorded=lambda r: self._wake.set())
        self.delivered = 0
        self._sender = threading.Thread(target=self._deliver_forever, name="pad-delivery", daemon=True)
        self.runtime.on(self.topics.counter_state(settings.counter), CounterState, self._on_counter_state)
        self.runtime.on_connected.append(self._on_connected)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self.sounds.start()
        self.runtime.start()
        self._sender.start()
        self.runtime.every(1.0, self._watch_link, "link")

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._wake.set()
        self._sender.join(timeout=10)
        self.runtime.stop()
        self.outbox.close()
        self.sounds.close()

    # ------------------------------------------------------------------ what the screen calls

    # ------------------------------------------------------------------ MQTT side

    def counter_state(self, state: CounterState) -> View:
        """The counter's retained state (from MQTT, or from a test or the screenshot tool)."""
        with self._lock:
            if self.model.counter_state(state, time.monotonic()):
                self._notify()
            return self.model.view

    def _on_counter_state(self, state: CounterState, inbound: Inbound) -> None:
        self.counter_state(state)

    def _on_connected(self) -> None:
        self._wake.set()  # whatever waited in the outbox goes now

    def _watch_link(self) -> None:
        with self._lock:
            if self.model.set_connected(self.runtime.connected):
                self._notify()

    def _deliver_forever(self) -> None:
        delays = self.settings.retry_s
        failures = 0
        while not self._stopping.is_set():
            try:
                sent_all = self._deliver_pending()
            except Exception:  # noqa: BLE001 - never let the sender die; the outbox keeps everything
                log.exception("delivery failed")
                sent_all = False
            if sent_all:
                failures = 0
                self._wake.wait(30)  # until a new rating, a reconnect, or a periodic look
            else:
                self._wake.wait(delays[min(failures, len(delays) - 1)])
                failures += 1
            self._wake.clear()

    def _deliver_pending(self) -> bool:
        """Send what waits, oldest first. True when the outbox is empty."""
        for rating in self.outbox.pending():
            if self._stopping.is_set():
                return False
            try:
                ack = self.runtime.request(self.topics.counter_rating(rating.counter, self.runtime.login), rating, RatingAck, timeout=5)
            except RequestFailed as exc:
                self.outbox.attempted(rating.rating_id)
                log.info("rating %s waits in the outbox: %s", rating.rating_id, exc)
                return False
            self._settle(rating, ack)
        return self.outbox.size() == 0

    def _settle(self, rating: Rating, ack: RatingAck) -> None:
        if ack.ok:
            self.outbox.acknowledged(rating.rating_id)
            with self._changed:
                self.delivered += 1
                self._changed.notify_all()
            log.info("rating %s for %s delivered%s", rating.rating_id, rating.ticket_id or "no ticket",
                     " (already counted)" if ack.duplicate else "")
        elif ack.error and ack.error.code == "internal":
            log.warning("dispatcher failed on rating %s; will retry", rating.rating_id)
        else:  # refused for good: keep it aside for the technician, never resend
            reason = f"{ack.error.code}: {ack.error.message}" if ack.error else "refused"
            self.outbox.refused(rating, reason)
            self.runtime.last_error = f"rating {rating.rating_id} refused: {reason}"
            log.warning("rating %s refused by the dispatcher: %s", rating.rating_id, reason)

    def _checks(self) -> dict[str, str]:
        pending = self.outbox.size()
        age = self.outbox.oldest_age_s()
        if not pending:
            outbox = "ok (0 pending)"
        elif age is not None and age >= 60:  # longer than a reconnect takes: the technician should look
            outbox = f"degraded: {pending} ratings undelivered, oldest {age:.0f} s"
        else:
            outbox = f"ok ({pending} pending, oldest {age or 0:.0f} s)"
        return {"outbox": outbox, "screen": self.screen_check()}
