"""The kiosk's touch screen: pygame events in, taps and drags to the service, frames out.

A touch is a tap when the finger lifts near where it went down, a drag
(scrolling a list) when it moved further: the same gesture a phone taught
most citizens. Draws only when the view changed; otherwise it sleeps in
``event.wait`` until a touch, a change from MQTT, or the next timeout.
"""

from __future__ import annotations

import pygame

from motcua.touchscreen import TouchScreenApp

from .screens import Painter
from .service import KioskService

DRAG_PX = 30  # movement beyond this is a drag, not a tap


class KioskScreen(TouchScreenApp):
    """The shared touch loop, plus drags that scroll the procedure lists."""

    def __init__(self, service: KioskService, surface: pygame.Surface | None = None):
        super().__init__(service, Painter(service.settings), surface)
        self._down: tuple[int, int] | None = None
        self._last: tuple[int, int] | None = None
        self._dragged = False

    def drawn(self, view) -> None:
        self.service.set_scroll_limit(self.painter.scroll_limit)

    def hit(self, pos: tuple[int, int]) -> str | None:
        # the navigation bar wins over content scrolled underneath it
        for name in sorted(self.targets, key=lambda n: not n.startswith("nav:")):
            if self.targets[name].collidepoint(pos):
                return name
        return None

    def handle(self, event: pygame.event.Event) -> None:
        t = event.type
        if t == pygame.FINGERDOWN or (t == pygame.MOUSEBUTTONDOWN and event.button == 1):
            self._down = self._last = self.position(event)
            self._dragged = False
        elif t == pygame.FINGERMOTION or (t == pygame.MOUSEMOTION and event.buttons[0]):
            if self._down is None or self._last is None:
                return
            pos = self.position(event)
            if abs(pos[1] - self._down[1]) > DRAG_PX:
                self._dragged = True
            if self._dragged:
                self.service.scroll(self._last[1] - pos[1])  # finger up = content moves up
            self._last = pos
        elif t == pygame.FINGERUP or (t == pygame.MOUSEBUTTONUP and event.button == 1):
            pos = self.position(event)
            down, self._down = self._down, None
            if down is None or self._dragged or abs(pos[0] - down[0]) > DRAG_PX or abs(pos[1] - down[1]) > DRAG_PX:
                return
            self.handle_point(down)
