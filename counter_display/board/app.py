"""The hall board's screen loop: redraw on change, sleep otherwise.

A full frame is drawn only when the view changed (a call, a queue count, the
minute, a flash edge, a page turn). Between those the loop sleeps in
``pygame.event.wait`` until the next deadline or a change posted from the MQTT
thread. The one continuous animation, a notice too long for the screen,
repaints only its strip at ``notice_fps``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import pygame

from .model import BoardView
from .screens import BoardPainter
from .service import BoardService

log = logging.getLogger("counter_display.board.screen")

class BoardScreen:
    def __init__(self, service: BoardService, surface: pygame.Surface | None = None):
        self.service = service
        s = service.settings
        pygame.display.init()
        if surface is None:
            if s.screen.fullscreen and os.environ.get("SDL_VIDEODRIVER") not in ("dummy", "offscreen"):
                surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)  # the TV's own size
                pygame.mouse.set_visible(False)
            else:
                surface = pygame.display.set_mode((s.screen.width, s.screen.height))
            pygame.display.set_caption(f"motcua – {s.device_id}")
        self.surface = surface
        self.painter = BoardPainter(s)
        self.frames = 0
        self.notice_frames = 0
        self._drawn: BoardView | None = None
        self._notice_t0 = time.monotonic()
        self._scrolls = False
        # called on the MQTT thread: wake the screen loop, which draws. A threading.Event, not a posted
        # pygame event: SDL's wait without a window system polls every millisecond, this sleeps.
        self._wake = threading.Event()
        service.on_change = self._wake.set

    def redraw(self, force: bool = False) -> bool:
        view = self.service.view()
        changed = force or view != self._drawn
        if changed:
            self.painter.draw(self.surface, view)
            if self._drawn is None or view.notice != self._drawn.notice:
                self._notice_t0 = time.monotonic()
            self._scrolls = self.painter.notice_scrolls(self.surface, view.notice)
            self._draw_notice(view.notice)
            pygame.display.flip()
            self._drawn = view
            self.frames += 1
        elif self._scrolls:
            rect = self._draw_notice(view.notice)
            pygame.display.update(rect)
            self.notice_frames += 1
        return changed

    def _draw_notice(self, text: str) -> pygame.Rect:
        speed = self.service.settings.notice_speed_px_s * self.painter.unit
        return self.painter.draw_notice(self.surface, text, (time.monotonic() - self._notice_t0) * speed)

    def run(self, stop: threading.Event) -> None:
        self.redraw(force=True)
        frame_s = 1 / self.service.settings.notice_fps
        while not stop.is_set():
            due = self.service.next_deadline()
            if self._scrolls:
                due = min(due, time.monotonic() + frame_s)
            self._wake.wait(max(0.001, min(1.0, due - time.monotonic())))
            self._wake.clear()
            force = False
            for event in pygame.event.get():  # window events queue up meanwhile; at most a second late
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
