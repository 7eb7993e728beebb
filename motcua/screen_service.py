"""What a screen needs from its daemon, written once for the kiosk, the pad and the board.

A service keeps a pure model (``model.view``, ``model.tap(target, now)``,
``model.tick(now)``, ``model.next_deadline()``) under one lock. The screen
thread taps and lets time pass; MQTT threads change the model too. Every
change calls ``on_view_change`` (the screen wakes and draws) and wakes
whoever waits in :meth:`ScreenService.wait_for_view` (tests, the demo). No
pygame here: a daemon without a display keeps running.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any, ParamSpec

P = ParamSpec("P")  # a handler's parameters: (message, inbound) from DeviceRuntime.on, (message,) from on_retained


class LockedModel:
    """Mixin for a daemon whose pure model lives under one lock (screens, panels): MQTT handlers that
    change the model holding it, and waits for a change. Call :meth:`_init_lock` in ``__init__``."""

    def _init_lock(self) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # notified at every change of what is shown

    def _locked(self, apply: Callable[P, bool]) -> Callable[P, None]:
        """A handler applying a message to the model under the lock; ``apply`` says whether it changed."""

        def handler(*args: P.args, **kwargs: P.kwargs) -> None:
            with self._lock:
                if apply(*args, **kwargs):
                    self._notify()

        return handler

    def _notify(self) -> None:
        """Called holding the lock after each change."""
        self._changed.notify_all()

    def _wait_until(self, holds: Callable[[], bool], timeout: float) -> bool:
        """Block until ``holds()`` (checked under the lock at every change), or time out."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not holds():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))
            return True


class TimedView(LockedModel):
    """Mixin for a model whose view depends on the time (a call's flash, how old a line is, today's date):
    ``model.view(now, wall)`` and ``model.next_deadline(now, wall)``, with ``now`` monotonic and ``wall`` aware
    UTC. ``frozen`` pins one moment ``(now, wall)`` for screenshots."""

    model: Any
    frozen: tuple[float, datetime] | None = None

    def view_at(self, now: float | None = None, wall: datetime | None = None) -> Any:
        if self.frozen is not None and now is None and wall is None:
            now, wall = self.frozen
        with self._lock:
            return self.model.view(time.monotonic() if now is None else now, wall or datetime.now(timezone.utc))

    def next_deadline(self) -> float:
        with self._lock:
            return self.model.next_deadline(time.monotonic(), datetime.now(timezone.utc))


class ScreenService(LockedModel):
    """Mixin: call :meth:`_init_screen` in ``__init__`` and keep the model in ``self.model``."""

    screen_stall_s = 10.0  # the watchdog's limit for a screen loop that stopped beating
    model: Any

    def _init_screen(self) -> None:
        self._init_lock()
        self.on_view_change: Callable[[Any], None] = lambda view: None
        self.on_touch: Callable[[], None] = lambda: None  # a touch that did something (a sounded confirmation)
        self.screen_status = "ok"  # set by serve_screen when there is no display
        self.screen_beat: float | None = None  # set by the screen loop; None until it runs (or headless)

    # ------------------------------------------------------------------ what the screen calls

    @property
    def view(self) -> Any:
        return self.model.view

    def tap(self, target: str, now: float | None = None) -> Any:
        with self._lock:
            result = self.model.tap(target, time.monotonic() if now is None else now)
            self._step(result)
            if result if isinstance(result, bool) else (result[0] or result[1] is not None):
                self.on_touch()
            return self.view

    def tick(self, now: float | None = None) -> Any:
        with self._lock:
            tick = getattr(self.model, "tick", None)
            if tick is not None:
                self._step(tick(time.monotonic() if now is None else now))
            return self.view

    def next_deadline(self) -> float | None:
        with self._lock:
            return self.model.next_deadline()

    def wait_for_view(self, predicate: Callable[[Any], bool], timeout: float) -> bool:
        """Block until ``predicate(view)`` holds (checked at every change), or time out."""
        return self._wait_until(lambda: predicate(self.view), timeout)

    # ------------------------------------------------------------------ for the service itself

    def _step(self, result: bool | tuple[bool, Any]) -> None:
        """Apply what a model call returned: ``changed`` or ``(changed, effect)``."""
        changed, effect = result if isinstance(result, tuple) else (result, None)
        self._after(changed, effect)

    def _after(self, changed: bool, effect: Any = None) -> None:
        if effect is not None:
            self._effect(effect)
        if changed:
            self._notify()

    def _effect(self, effect: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} has no work for {effect!r}")

    def _notify(self) -> None:
        self.on_view_change(self.view)
        self._changed.notify_all()

    def screen_check(self) -> str:
        """The health line for the screen: no display, a stalled loop, or ok."""
        if self.screen_beat is not None and time.monotonic() - self.screen_beat > self.screen_stall_s:
            return f"fault: screen loop stalled for {time.monotonic() - self.screen_beat:.0f} s"
        return self.screen_status


def serve_screen_daemon(settings: Any, stop: threading.Event, what: str,
                        parts: Callable[[], tuple[Callable[[Any], Any], Callable[[Any], Any]]],
                        log: logging.Logger) -> int:
    """A screen daemon's ``run``: its fonts checked, its service started, its screen served until ``stop``.

    ``parts()`` imports and returns the service class and the screen class, so that pygame is
    loaded only once the settings are sound. A missing font exits with EX_CONFIG, naming the file.
    """
    from .settings import EX_CONFIG

    for path in (settings.screen.font, settings.screen.bold_font):
        if not path.is_file():
            log.error("font %s is missing (Debian: fonts-dejavu-core)", path)
            return EX_CONFIG

    from .touchscreen import serve_screen

    make_service, make_screen = parts()
    service = make_service(settings).start()
    serve_screen(service, make_screen, stop, what)
    service.stop()
    return 0
