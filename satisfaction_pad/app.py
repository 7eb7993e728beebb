"""The pad's touch screen: pygame events in, taps to the service, frames out.

Draws only when the view changed; otherwise it sleeps in ``event.wait`` until
a touch, a state change from MQTT, or the next timeout, so an idle pad uses
next to no CPU (the loop is :class:`motcua.touchscreen.TouchScreenApp`'s).
A press is a tap where it lands: the pad has nothing to scroll. A tap where a
face was, just after the rating screen timed out, still goes to that face.
"""

from __future__ import annotations

import time

import pygame

from motcua.touchscreen import Targets, TouchScreenApp

from .screens import Painter
from .service import PadService


class PadScreen(TouchScreenApp):
    def __init__(self, service: PadService, surface: pygame.Surface | None = None):
        super().__init__(service, Painter(service.settings), surface)
        self._late: tuple[Targets, float] | None = None  # the faces of a rating screen that just timed out
        self._faces: Targets = {}

    def drawn(self, view) -> None:
        if view.screen == "idle" and self._faces and self.service.settings.late_tap_s > 0:
            self._late = (self._faces, time.monotonic() + self.service.settings.late_tap_s)
        self._faces = {k: r for k, r in self.targets.items() if k.startswith("level:")}

    def hit(self, pos: tuple[int, int]) -> str | None:
        """A tap where a face was a moment ago is meant for it: the model decides whether it still counts."""
        if self._late is not None and time.monotonic() < self._late[1]:
            late = next((name for name, rect in self._late[0].items() if rect.collidepoint(pos)), None)
            if late:
                return late
        return super().hit(pos)
