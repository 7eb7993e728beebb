"""Drawing the dossier-progress screen with pygame: one function of the view, no state of its own.

Designed at 1920x1080 and scaled by ``unit``; DejaVu Sans for every Vietnamese word.
"""

from __future__ import annotations

import pygame
import pygame.freetype

from motcua.touchscreen import wrap_words

from .config import ProgressSettings
from .model import FIELDS, ProgressView, Row


def percent(value: float | None) -> str:
    """96.5 -> "96,5%": the Vietnamese decimal comma; "–" when there is nothing to rate."""
    return "–" if value is None else f"{value:.1f}".replace(".", ",") + "%"


def thousands(n: int) -> str:
    """12345 -> "12.345": the Vietnamese thousands separator."""
    return f"{n:,}".replace(",", ".")


class ProgressPainter:
    def __init__(self, settings: ProgressSettings):
        self.s = settings
        self.t = settings.texts
        self.c = settings.screen.colours
        pygame.freetype.init()
        self._fonts: dict[tuple[int, bool], pygame.freetype.Font] = {}
        self.unit = 1.0

    def font(self, size: float, bold: bool = False) -> pygame.freetype.Font:
        key = (max(8, int(size)), bold)
        if key not in self._fonts:
            path = self.s.screen.bold_font if bold else self.s.screen.font
            self._fonts[key] = pygame.freetype.Font(str(path), key[0])
        return self._fonts[key]

    def fit(self, text: str, size: float, width: int, bold: bool = False) -> pygame.freetype.Font:
        """The largest font up to ``size`` in which ``text`` fits on one line of ``width``."""
        while size > 12 and self.font(size, bold).get_rect(text).width > width:
            size -= 2
        return self.font(size, bold)

    def text(self, surface, text: str, font, colour, at: tuple[int, int], align: str = "left") -> pygame.Rect:
        rect = font.get_rect(text)
        if align == "left":
            rect.midleft = at
        elif align == "right":
            rect.midright = at
        else:
            rect.center = at
        font.render_to(surface, rect, text, colour)
        return rect

    wrap = staticmethod(wrap_words)

    def draw(self, surface: pygame.Surface, view: ProgressView) -> None:
        w, h = surface.get_size()
        u = self.unit = min(w / 1920, h / 1080)
        c, t = self.c, self.t
        surface.fill(c.background)
        head = pygame.Rect(0, 0, w, int(150 * u))
        pygame.draw.rect(surface, c.header, head)
        clock_right = w - int(40 * u)
        clock = self.text(surface, view.clock, self.font(70 * u, True), c.header_text,
                          (clock_right, int(58 * u)), "right")
        self.text(surface, view.date, self.font(28 * u), c.header_text, (clock_right, int(118 * u)), "right")
        room = clock.left - int(80 * u)
        if view.hall_name:
            self.text(surface, view.hall_name, self.fit(view.hall_name, 32 * u, room), c.header_text,
                      (int(40 * u), int(45 * u)))
        self.text(surface, t.title, self.fit(t.title, 54 * u, room, True), c.header_text, (int(40 * u), int(102 * u)))
        if view.period is None:
            self.text(surface, t.waiting, self.fit(t.waiting, 40 * u, w - int(120 * u)), c.muted,
                      (w // 2, h // 2), "center")
            self._footer(surface, view)
            return
        # the period and the target
        y = head.bottom + int(55 * u)
        self.text(surface, view.period_title, self.font(46 * u, True), c.late, (int(40 * u), y))
        target = t.target.format(pct=f"{view.target_pct:g}".replace(".", ","))
        if view.pages > 2:
            target += "   ·   " + t.page.format(n=view.page, of=view.pages)
        self.text(surface, target, self.font(28 * u), c.muted, (w - int(40 * u), y), "right")
        self._table(surface, view, head.bottom + int(110 * u), h - int(80 * u))
        self._footer(surface, view)

    def _columns(self, w: int) -> list[tuple[str, int, int]]:
        """(label, left, right) per column: the group's name, the five figures, the on-time rate."""
        u = self.unit
        left, right = int(40 * u), w - int(40 * u)
        name_w = int(500 * u)
        labels = [self.t.received, self.t.in_progress, self.t.done_on_time, self.t.done_late, self.t.overdue,
                  self.t.on_time_rate]
        step = (right - left - name_w) / len(labels)
        cols = [("", left, left + name_w)]
        for i, label in enumerate(labels):
            cols.append((label, int(left + name_w + i * step), int(left + name_w + (i + 1) * step)))
        return cols

    def _table(self, surface: pygame.Surface, view: ProgressView, top: int, bottom: int) -> None:
        w, _ = surface.get_size()
        u, c = self.unit, self.c
        cols = self._columns(w)
        head_h = int(90 * u)
        panel = pygame.Rect(int(24 * u), top, w - int(48 * u), bottom - top)
        pygame.draw.rect(surface, c.panel, panel, border_radius=int(16 * u))
        first = self.t.by_area if view.group_by == "area" else self.t.by_agency
        labels = [first] + [label for label, _, _ in cols[1:]]
        size = 28 * u  # one size for every heading, the largest at which each takes at most two lines
        while size > 12 and any(len(self.wrap(lbl, self.font(size, True), r - left - int(16 * u))) > 2
                                for lbl, (_, left, r) in zip(labels, cols)):
            size -= 1
        head_font = self.font(size, True)
        for i, (_, left, r) in enumerate(cols):
            lines = self.wrap(labels[i], head_font, r - left - int(16 * u))
            line_h = head_font.get_sized_height(0)  # 0: the font's own size
            for k, line in enumerate(lines):
                y = top + head_h // 2 + int((k - (len(lines) - 1) / 2) * line_h)
                if i == 0:
                    self.text(surface, line, head_font, c.muted, (left + int(16 * u), y))
                else:
                    self.text(surface, line, head_font, c.muted, (r - int(16 * u), y), "right")
        rows = list(view.rows)
        slots = max(len(rows), 1) + 1  # the total row too
        row_h = min(int(96 * u), (bottom - top - head_h - int(20 * u)) // slots)
        y = top + head_h
        for i, row in enumerate(rows):
            if i % 2 == 0:
                pygame.draw.rect(surface, c.stripe, pygame.Rect(panel.left, y, panel.width, row_h))
            self._row(surface, row, cols, y, row_h, view.target_pct, bold=False)
            y += row_h
        if view.total is not None:
            pygame.draw.line(surface, c.muted, (panel.left + int(16 * u), y + int(6 * u)),
                             (panel.right - int(16 * u), y + int(6 * u)), max(2, int(3 * u)))
            self._row(surface, view.total, cols, y + int(12 * u), row_h, view.target_pct, bold=True)

    def _row(self, surface, row: Row, cols, y: int, row_h: int, target: float, bold: bool) -> None:
        u, c = self.unit, self.c
        mid = y + row_h // 2
        _, left, r = cols[0]
        self.text(surface, row.name, self.fit(row.name, 34 * u, r - left - int(24 * u), bold), c.text,
                  (left + int(16 * u), mid))
        figures = self.font(min(44 * u, row_h * 0.55), True)
        for i, field in enumerate(FIELDS):
            value = row.value(field)
            colour = c.text
            if field == "done_late" and value:
                colour = c.late
            elif field == "overdue" and value:
                colour = c.bad
            self.text(surface, thousands(value), figures, colour, (cols[i + 1][2] - int(16 * u), mid), "right")
        rate_colour = c.muted if row.rate is None else (c.good if row.rate >= target else c.bad)
        self.text(surface, percent(row.rate), figures, rate_colour, (cols[-1][2] - int(16 * u), mid), "right")

    def _footer(self, surface: pygame.Surface, view: ProgressView) -> None:
        w, h = surface.get_size()
        u, c = self.unit, self.c
        y = h - int(40 * u)
        if view.updated:
            self.text(surface, view.updated, self.font(28 * u), c.bad if view.stale else c.muted, (int(40 * u), y))
        if not view.online:
            self.text(surface, self.t.offline, self.font(28 * u, True), c.bad, (w - int(40 * u), y), "right")
