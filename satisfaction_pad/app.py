"""The pad's touch screen: pygame events in, taps to the service, frames out.

Draws only when the view changed; otherwise it sleeps in ``event.wait`` until
a touch, a state change from MQTT, or the next timeout, so an idle pad uses
next to no CPU (the loop is :class:`motcua.touchscreen.TouchScreenApp`'s).
A press is a tap where it lands: the pad has nothing to scroll.
"""

from __future__ import annotations

import pygame

from motcua.touchscreen import TouchScreenApp

from .screens import Painter
from .service import PadService


class PadScreen(TouchScreenApp):
    def __init__(self, service: PadService, surface: pygame.Surface | None = None):
        super().__init__(service, Painter(service.settings), surface)
