"""The kiosk's touch screen: pygame events in, taps and drags to the service, frames out.

A touch is a tap when the finger lifts near where it went down, a drag
(scrolling a list) when it moved further: the same gesture a phone taught
most citizens. Draws only when the view changed; otherwise it sleeps in
``event.wait`` until a touch, a change from MQTT, or the next timeout.
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
from .service import KioskService

log = logging.getLogger("kiosk_ticket.screen")

VIEW_CHANGED = pygame.USEREVENT + 2
DRAG_PX = 30  # movement beyond this is a drag, not a tap


class KioskScreen:
    def __init__(self, service: KioskService, surface: pygame.Surface | None = None):
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
        self._down: tuple[int, int] | None = None
        self._last: tuple[int, int] | None = None
        self._dragged = False
        # called on other threads: only post an event, the screen thread draws
        service.on_view_change = lambda view: pygame.event.post(pygame.event.Event(VIEW_CHANGED))

    def redraw(self, force: bool = False) -> bool:
        view = self.service.view
        if view == self._drawn and not force:
            return False
        self.targets = self.painter.draw(self.surface, view)
        pygame.display.flip()
        self._drawn = view
        self.frames += 1
        self.service.set_scroll_limit(self.painter.scroll_limit)
        return True

    def hit(self, pos: tuple[int, int]) -> str | None:
        # the navigation bar wins over content scrolled underneath it
        for name in sorted(self.targets, key=lambda n: not n.startswith("nav:")):
            if self.targets[name].collidepoint(pos):
                return name
        return None

    def _pos(self, event: pygame.event.Event) -> tuple[int, int]:
        if event.type in (pygame.FINGERDOWN, pygame.FINGERUP, pygame.FINGERMOTION):
            w, h = self.surface.get_size()  # touch coordinates are normalised to 0..1
            return int(event.x * w), int(event.y * h)
        return event.pos

    def handle(self, event: pygame.event.Event) -> None:
        t = event.type
        if t == pygame.FINGERDOWN or (t == pygame.MOUSEBUTTONDOWN and event.button == 1):
            self._down = self._last = self._pos(event)
            self._dragged = False
        elif t == pygame.FINGERMOTION or (t == pygame.MOUSEMOTION and event.buttons[0]):
            if self._down is None or self._last is None:
                return
            pos = self._pos(event)
            if abs(pos[1] - self._down[1]) > DRAG_PX:
                self._dragged = True
            if self._dragged:
                self.service.scroll(self._last[1] - pos[1])  # finger up = content moves up
            self._last = pos
        elif t == pygame.FINGERUP or (t == pygame.MOUSEBUTTONUP and event.button == 1):
            pos = self._pos(event)
            down, self._down = self._down, None
            if down is None or self._dragged or abs(pos[0] - down[0]) > DRAG_PX or abs(pos[1] - down[1]) > DRAG_PX:
                return
            self.handle_point(down)

    def handle_point(self, pos: tuple[int, int]) -> None:
        target = self.hit(pos)
        if target:
            self.service.tap(target)

    def pump(self) -> None:
        """Handle what is queued, let time pass, redraw if needed (the loop body; tests call it too)."""
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                raise SystemExit
            self.handle(event)
        self.service.tick()
        self.redraw()

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
