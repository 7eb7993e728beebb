"""The hall board's screen: the shared loop (:class:`motcua.touchscreen.ScreenApp`) plus its two motions.

A whole frame is drawn only when the view changed (a call, a queue count, the
minute, a page turn); a flash edge repaints only the newest call's row. The
one continuous animation, a notice too long for the screen, blits its
pre-rendered strip at ``notice_fps`` (at most ``screen.max_fps``) and presents
only that strip. Between those the loop sleeps.
"""

from __future__ import annotations

import dataclasses
import time

import pygame

from motcua.touchscreen import ScreenApp

from .model import BoardView
from .screens import BoardPainter
from .service import BoardService


class BoardScreen(ScreenApp):
    input_poll_s = 0.25  # nobody touches the board: its only inputs are a window closing or a key

    def __init__(self, service: BoardService, surface: pygame.Surface | None = None):
        super().__init__(service, BoardPainter(service.settings), surface)
        self._notice_t0 = time.monotonic()
        self._notice: str | None = None
        self._scrolls = False
        self._next_step = 0.0

    @property
    def notice_frames(self) -> int:
        return self.partial_frames

    def _frame_s(self) -> float:
        return 1 / min(self.service.settings.notice_fps, self.settings.max_fps)

    def draw_change(self, before: BoardView, after: BoardView) -> list[pygame.Rect] | None:
        """A flash edge changes only the newest call's row."""
        if after.calls and dataclasses.replace(before, flash=after.flash) == after:
            return [self.painter.draw_call(self.surface, after, 0)]
        return None

    def animate(self, restart: bool = False) -> list[pygame.Rect] | None:
        view = self.service.view if restart else self._drawn
        if view is None:
            return None
        if restart:
            if view.notice != self._notice:
                self._notice, self._notice_t0 = view.notice, time.monotonic()
            self._scrolls = self.painter.notice_scrolls(self.surface, view.notice)
        elif not self._scrolls or time.monotonic() < self._next_step:
            return None
        now = time.monotonic()
        self._next_step = now + self._frame_s()
        speed = self.service.settings.notice_speed_px_s * self.painter.unit
        return [self.painter.draw_notice(self.surface, view.notice, (now - self._notice_t0) * speed)]

    def animation_due(self) -> float | None:
        return self._next_step if self._scrolls else None

    def handle(self, event: pygame.event.Event) -> None:
        if event.type == pygame.KEYDOWN and event.key in (pygame.K_ESCAPE, pygame.K_q):
            pygame.event.post(pygame.event.Event(pygame.QUIT))
