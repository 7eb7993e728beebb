"""What every citizen-facing screen shares: the window, the event loop, hit targets, screenshots.

A screen app owns a *service* (``view``, ``tap(target)``, ``tick()``,
``next_deadline()``, ``screen_beat``, ``on_view_change``) and a *painter*
(``draw(surface, view) -> {target: Rect}``). It draws only when the view
changed; otherwise it sleeps in ``pygame.event.wait`` until a touch, a change
from MQTT (posted as an event by the service's thread), or the service's next
timeout, so an idle screen uses next to no CPU. Subclasses add gestures.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pygame

log = logging.getLogger("motcua.screen")

VIEW_CHANGED = pygame.USEREVENT + 1


class TouchScreenApp:
    def __init__(self, service, painter, surface: pygame.Surface | None = None):
        self.service = service
        s = service.settings.screen
        pygame.display.init()
        if surface is None:
            flags = pygame.FULLSCREEN if s.fullscreen and os.environ.get("SDL_VIDEODRIVER") != "dummy" else 0
            surface = pygame.display.set_mode((s.width, s.height), flags)
            pygame.display.set_caption(f"motcua – {service.settings.device_id}")
            pygame.mouse.set_visible(not s.fullscreen)
        self.surface = surface
        self.painter = painter
        self.targets: dict[str, pygame.Rect] = {}
        self.frames = 0
        self._drawn = None
        # called on the service's threads: only post an event, the screen thread draws
        service.on_view_change = lambda view: pygame.event.post(pygame.event.Event(VIEW_CHANGED))

    def redraw(self, force: bool = False) -> bool:
        view = self.service.view
        if view == self._drawn and not force:
            return False
        self.targets = self.painter.draw(self.surface, view)
        pygame.display.flip()
        self._drawn = view
        self.frames += 1
        self.drawn(view)
        return True

    def drawn(self, view) -> None:
        """Hook after each frame."""

    def hit(self, pos: tuple[int, int]) -> str | None:
        return next((name for name, rect in self.targets.items() if rect.collidepoint(pos)), None)

    def position(self, event: pygame.event.Event) -> tuple[int, int]:
        if event.type in (pygame.FINGERDOWN, pygame.FINGERUP, pygame.FINGERMOTION):
            w, h = self.surface.get_size()  # touch coordinates are normalised to 0..1
            return int(event.x * w), int(event.y * h)
        return event.pos

    def handle(self, event: pygame.event.Event) -> None:
        """A press is a tap where it lands; subclasses with scrolling lists override this."""
        if event.type == pygame.FINGERDOWN or (event.type == pygame.MOUSEBUTTONDOWN and event.button == 1):
            self.handle_point(self.position(event))

    def handle_point(self, pos: tuple[int, int]) -> None:
        target = self.hit(pos)
        if target:
            self.service.tap(target)

    def pump(self) -> None:
        """Handle what is queued, let time pass, redraw if needed (the loop body without waiting)."""
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


def serve_screen(service, make_screen, stop: threading.Event, what: str) -> None:
    """A daemon's main loop: the screen until ``stop``. Without a display the service keeps
    running (ratings still delivered, health still published) and says why, in its health and
    in systemd's status line."""
    try:
        screen = make_screen(service)
    except Exception as exc:  # noqa: BLE001 - no display, no KMS, no permission: any reason
        service.screen_status = f"fault: {exc}"
        log.error("no screen: %s", exc)
        service.runtime.ready(f"{what}: NO SCREEN ({exc})")
        stop.wait()
    else:
        w, h = screen.surface.get_size()  # full screen takes the display's own size
        service.runtime.ready(f"{what}: screen {w}x{h}")
        screen.run(stop)
