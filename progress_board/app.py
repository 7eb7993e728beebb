"""The dossier-progress screen's loop: redraw on change, sleep otherwise.

A frame is drawn only when the view changed (new figures, a dossier from the
stream, a page turn, the minute on the clock); between those the loop sleeps
until the next deadline or a change signalled from the MQTT thread.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pygame

from .model import ProgressView
from .screens import ProgressPainter
from .service import ProgressService


class ProgressScreen:
    def __init__(self, service: ProgressService, surface: pygame.Surface | None = None):
        self.service = service
        s = service.settings
        pygame.display.init()
        given = surface is not None
        if surface is None:
            if s.screen.fullscreen and os.environ.get("SDL_VIDEODRIVER") not in ("dummy", "offscreen"):
                surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)  # the TV's own size
                pygame.mouse.set_visible(False)
            else:
                surface = pygame.display.set_mode((s.screen.width, s.screen.height))
            pygame.display.set_caption(f"motcua – {s.device_id}")
        self.surface = surface
        # what serve_screen reports (the shared ScreenApp's Display has the same attribute)
        self.display = SimpleNamespace(driver="surface" if given else pygame.display.get_driver())
        self.painter = ProgressPainter(s)
        self.frames = 0
        self._drawn: ProgressView | None = None
        self._wake = threading.Event()  # set on the MQTT thread; the screen thread draws
        service.on_change = self._wake.set

    def redraw(self, force: bool = False) -> bool:
        view = self.service.view()
        if not force and view == self._drawn:
            return False
        self.painter.draw(self.surface, view)
        pygame.display.flip()
        self._drawn = view
        self.frames += 1
        return True

    def run(self, stop: threading.Event) -> None:
        self.redraw(force=True)
        while not stop.is_set():
            self._wake.wait(max(0.001, min(1.0, self.service.next_deadline() - time.monotonic())))
            self._wake.clear()
            force = False
            for event in pygame.event.get():
                if event.type == pygame.QUIT or (event.type == pygame.KEYDOWN
                                                 and event.key in (pygame.K_ESCAPE, pygame.K_q)):
                    stop.set()
                elif event.type in (pygame.VIDEOEXPOSE, pygame.WINDOWEXPOSED):
                    force = True
            self.redraw(force)
            self.service.screen_beat = time.monotonic()

    def screenshot(self, path: Path) -> Path:
        self.redraw(force=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(self.surface, str(path))
        return path
