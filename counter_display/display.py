"""The LED matrix on the wire: the shared LED panel thread (:mod:`motcua.ledpanel`) showing the box's content.

The device is built from settings by :func:`open_device` or injected (tests,
the benchmark); :class:`MatrixDisplay` never knows which. It draws only when
the frame differs from the one on the modules, and otherwise sleeps until the
next blink or scroll step, or until it is given new content: no busy loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from motcua import ledpanel

from .config import MatrixSettings
from .matrix import Content, Frame, MatrixPainter, brightness_at

log = logging.getLogger("counter_display.matrix")

BRIGHTNESS_CHECK_S = 30.0


def open_device(m: MatrixSettings, name: str = "counter") -> Any:
    """A luma device for the configured driver; the capture driver writes ``name.png`` (or one PNG a frame)."""
    return ledpanel.open_device(m, f"{name}-{{0:06}}.png" if m.capture_every_frame else f"{name}.png")


class MatrixDisplay(ledpanel.PanelThread[Frame]):
    """The shared panel thread showing a :class:`Content`: ``show(content)`` from any thread.

    Besides drawing it sets the modules' brightness by the time of day, looking at least every
    ``BRIGHTNESS_CHECK_S`` seconds.
    """

    def __init__(self, settings: MatrixSettings, device: Any, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], datetime] = lambda: datetime.now(timezone.utc)):
        self.s = settings
        self.painter = MatrixPainter(settings)
        self.wall = wall
        self.content = Content(settings.waiting_text)
        self.brightness: int | None = None
        self._next_brightness_check = 0.0
        super().__init__(device, self._frame_at, self.painter.render, self._next_change, name="matrix",
                         clock=clock, longest_sleep=BRIGHTNESS_CHECK_S, log=log)

    def show(self, content: Content) -> None:
        with self._cond:
            if content == self.content:
                return
            self.content = content
            self._cond.notify_all()

    def start(self) -> MatrixDisplay:
        super().start()
        return self

    def _frame_at(self, now: float) -> Frame:
        return self.painter.frame(self.content, now)

    def _next_change(self, now: float) -> float | None:
        return self.painter.next_change(self.content, now)

    def draw(self, now: float | None = None) -> float | None:
        """Set the brightness when its look is due, then draw as the shared thread does."""
        now = self.clock() if now is None else now
        self._apply_brightness(now)
        return super().draw(now)

    def _apply_brightness(self, now: float) -> None:
        if now < self._next_brightness_check:
            return
        self._next_brightness_check = now + BRIGHTNESS_CHECK_S
        level = brightness_at(self.s.brightness_schedule, self.s.brightness, self.wall(), self.s.timezone)
        if level != self.brightness:
            try:
                self.device.contrast(level)
                self.brightness = level
            except Exception as exc:  # noqa: BLE001
                self.status = f"fault: cannot set brightness: {exc}"

    def describe(self) -> str:
        kind = type(self.device).__name__
        return f"{kind} {self.s.modules}x8x8, brightness {self.brightness}"
