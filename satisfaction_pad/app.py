"""The pad's touch screen: pygame events in, taps to the service, frames out.

Draws only when the view changed; otherwise it sleeps in ``event.wait`` until
a touch, a state change from MQTT, or the next timeout, so an idle pad uses
next to no CPU.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pygame

from .model import View
from .screens import Painter, Targets
from .service import PadService

log = logging.getLogger("satisfaction_pad.screen")

VIEW_CHANGED = pygame.USEREVENT + 1


class PadScreen:
    def __init__(self, service: PadService, surface: pygame.Surface | None = None):
        self.service = service
        s = service.settings.screen
        pygame.display.init()
        if surface is None:
            flags = pygame.FULLSCREEN if s.fullscreen and os.environ.get("SDL_VIDEODRIVER") != "dummy" else 0
            surface = pygame.display.set_mode((s.width, s.height), flags)
            pygame.display.set_caption(f"motcua – {service.settings.device_id}")
            pygame.mouse.set_visible(not s.fullscreen)
        self.surface = surface
        self.painter = Painter(service.settings)
        self.targets: Targets = {}
        self.frames = 0
        self._drawn: View | None = None
        # called on the MQTT thread: only post an event, the screen thread draws
        service.on_view_change = lambda view: pygame.event.post(pygame.event.Event(VIEW_CHANGED))

    def redraw(self, force: bool = False) -> bool:
        view = self.service.view
        if view == self._drawn and not force:
            return False
        self.targets = self.painter.draw(self.surface, view)
        pygame.display.flip()
        self._drawn = view
        self.frames += 1
        return True

    def hit(self, pos: tuple[int, int]) -> str | None:
        return next((name for name, rect in self.targets.items() if rect.collidepoint(pos)), None)

    def handle(self, event: pygame.event.Event) -> None:
        if event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            pos = event.pos
        elif event.type == pygame.FINGERDOWN:  # touch coordinates are normalised to 0..1
            w, h = self.surface.get_size()
            pos = (int(event.x * w), int(event.y * h))
        else:
            return
        self.handle_point(pos)

    def handle_point(self, pos: tuple[int, int]) -> None:
        target = self.hit(pos)
        if target:
            self.service.tap(target)

    def run(self, stop: threading.Event) -> None:
        self.redraw(force=True)
        while not stop.is_set():
            deadline = self.service.next_deadline()
            wait_ms = 1000 if deadline is None else max(1, min(1000, int((deadline - time.monotonic()) * 1000)))
            event = pygame.event.wait(wait_ms)
            while event.type != pygame.NOEVENT:
                if event.type == pygame.QUIT:
                    stop.set()
                self.handle(event)
                event = pygame.event.poll()
            self.service.tick()
            self.redraw()
            self.service.screen_beat = time.monotonic()  # the watchdog sees a frozen screen loop

    def screenshot(self, path: Path) -> Path:
        self.redraw()
        path.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(self.surface, str(path))
        return path
