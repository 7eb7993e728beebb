"""The amplifier's power relay: on a warm-up time before the first sound, off after an idle timeout.

Pure timing around a gpiozero ``OutputDevice``; the clock is injected so tests
drive it (with gpiozero's MockFactory) without sleeping. The service calls

* ``prepare()`` before a sound: switches on if needed, returns how long to wait
  until the amplifier has warmed up (0 when it already has);
* ``started()`` / ``finished()`` around each sound;
* ``tick()`` now and then: switches off once idle for ``idle_timeout_s``.

Without a relay pin (a box whose amplifier is always on) every call is a no-op
and ``prepare()`` returns 0.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .config import AmplifierSettings

log = logging.getLogger("announcer.amplifier")


class Amplifier:
    def __init__(self, settings: AmplifierSettings, clock: Callable[[], float] = time.monotonic, device=None):
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._on_since: float | None = None
        self._last_sound: float | None = None
        self._playing = False
        self.error: str | None = None
        self.device = device
        if device is None and settings.relay_pin is not None:
            try:
                from gpiozero import OutputDevice

                self.device = OutputDevice(settings.relay_pin, active_high=settings.active_high, initial_value=False)
            except Exception as exc:  # noqa: BLE001 - no GPIO: keep announcing, report it
                self.error = f"relay on pin {settings.relay_pin} unavailable: {exc}"
                log.error("%s", self.error)

    @property
    def present(self) -> bool:
        return self.device is not None

    @property
    def is_on(self) -> bool:
        return self._on_since is not None

    @property
    def state(self) -> str:
        if self.device is None:
            return "fault" if self.error else "absent"
        return "on" if self.is_on else "off"

    def _switch(self, on: bool) -> None:
        try:
            if on:
                self.device.on()
            else:
                self.device.off()
            self.error = None
        except Exception as exc:  # noqa: BLE001
            self.error = f"relay: {exc}"
            log.error("could not switch the amplifier relay %s: %s", "on" if on else "off", exc)

    def prepare(self) -> float:
        """Seconds to wait before the first sample may be played."""
        if self.device is None:
            return 0.0
        with self._lock:
            now = self.clock()
            if self._on_since is None:
                self._switch(True)
                self._on_since = now
                log.info("amplifier on; warming up %.1f s", self.settings.warmup_s)
            return max(0.0, self._on_since + self.settings.warmup_s - now)

    def started(self) -> None:
        with self._lock:
            self._playing = True
            self._last_sound = self.clock()

    def finished(self) -> None:
        with self._lock:
            self._playing = False
            self._last_sound = self.clock()

    def tick(self) -> bool:
        """Switch off once idle long enough; True when it just did."""
        if self.device is None:
            return False
        with self._lock:
            if self._on_since is None or self._playing:
                return False
            idle_from = max(self._on_since + self.settings.warmup_s, self._last_sound or 0.0)
            if self.clock() - idle_from >= self.settings.idle_timeout_s:
                self._switch(False)
                self._on_since = None
                log.info("amplifier off after %.0f s idle", self.settings.idle_timeout_s)
                return True
            return False

    def off(self) -> None:
        if self.device is None:
            return
        with self._lock:
            self._switch(False)
            self._on_since = None

    def close(self) -> None:
        self.off()
        if self.device is not None:
            try:
                self.device.close()
            except Exception:  # noqa: BLE001
                pass
