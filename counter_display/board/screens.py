"""Drawing the hall board with pygame: a BoardView in, pixels out. Pure drawing, no state but fonts.

The layout is proportional to the surface (designed at 1920x1080), so the
same code fills any TV. Text goes through pygame.freetype with a font that
covers Vietnamese (DejaVu Sans by default); the notice strip is drawn on its
own so that scrolling it repaints only that strip.
"""

from __future__ import annotations

import pygame

from motcua.touchscreen import CachedFont, Fonts

from .config import BoardSettings
from .model import BoardView


class BoardPainter:
    def __init__(self, settings: BoardSettings):
        self.s = settings
        self.c = settings.screen.colours
        self.t = settings.texts
        self.fonts = Fonts(settings.screen)
        self.unit = 1.0

    def font(self, size: int, bold: bool = False) -> CachedFont:
        return self.fonts(size, bold)

    def fit(self, text: str, size: int, width: int, bold: bool = False) -> CachedFont:
        """The largest font up to ``size`` in which ``text`` fits on one line of ``width``."""
        while size > 12 and self.font(size, bold).get_rect(text).width > width:
            size -= 2
        return self.font(size, bold)

    # ------------------------------------------------------------------ layout

    def _u(self, surface: pygame.Surface) -> float:
        w, h = surface.get_size()
        # designed at 1920x1080; on a TV standing upright the calls take the whole width (see _columns)
        self.unit = min(w / 1250, h / 1920) if h > w else min(w / 1920, h / 1080)
        return self.unit

    def notice_rect(self, surface: pygame.Surface) -> pygame.Rect:
        w, h = surface.get_size()
        strip = int(90 * self._u(surface))
        return pygame.Rect(0, h - strip, w, strip)

    # ------------------------------------------------------------------ entry points

    def draw(self, surface: pygame.Surface, view: BoardView) -> None:
        """Everything but the notice strip."""
        self._u(surface)
        surface.fill(self.c.background)
        self._header(surface, view)
        body = self._body(surface)
        getattr(self, f"_{view.page}")(surface, view, body)

    def draw_notice(self, surface: pygame.Surface, text: str, offset: float) -> pygame.Rect:
        """The notice strip with the text shifted left by ``offset`` pixels (wrapping round)."""
        rect = self.notice_rect(surface)
        strip, scrolls = self._notice_strip(text, rect)
        if not scrolls:  # it fits: it stays still
            surface.blit(strip, rect)
            return rect
        cycle = strip.get_width()
        x = rect.left + int(30 * self.unit) - int(offset) % cycle - cycle
        clip = surface.get_clip()
        surface.set_clip(rect)
        while x < rect.right:  # the strip is one cycle wide: two or three blits cover the line
            surface.blit(strip, (x, rect.top))
            x += cycle
        surface.set_clip(clip)
        return rect

    def _notice_strip(self, text: str, rect: pygame.Rect) -> tuple[pygame.Surface, bool]:
        """The notice rendered once per text and size on its background, one scrolling cycle wide (the text and
        its gap) or the strip's width when it fits; scrolling then only blits it."""
        key = (text, rect.size)
        if getattr(self, "_strip_key", None) != key:
            font = self.font(int(44 * self.unit))
            words = font.image(text, self.c.notice, self.c.notice_background) if text else None
            width = words.get_width() if words else 0
            scrolls = width > rect.width - int(60 * self.unit)
            strip = pygame.Surface((width + int(200 * self.unit) if scrolls else rect.width, rect.height))
            if pygame.display.get_surface() is not None:
                strip = strip.convert()
            strip.fill(self.c.notice_background)
            if words:
                x = 0 if scrolls else (rect.width - width) // 2
                strip.blit(words, (x, (rect.height - words.get_height()) // 2))
            self._strip, self._strip_scrolls, self._strip_key = strip, scrolls, key
        return self._strip, self._strip_scrolls

    def notice_scrolls(self, surface: pygame.Surface, text: str) -> bool:
        return self._notice_strip(text, self.notice_rect(surface))[1]

    # ------------------------------------------------------------------ pieces

    def _header(self, surface: pygame.Surface, view: BoardView) -> int:
        w, _ = surface.get_size()
        u = self.unit
        bar = pygame.Rect(0, 0, w, int(130 * u))
        surface.fill(self.c.header, bar)
        clock_font = self.font(int(72 * u), True)
        clock_w = clock_font.get_rect("88:88").width
        clock_x = w - int(40 * u) - clock_w
        title = view.hall_name or self.t.calls_title
        self._text(surface, title, self.fit(title, int(48 * u), clock_x - int(420 * u), True), self.c.header_text,
                   (int(40 * u), int(40 * u)))
        if not view.online:
            self._text(surface, self.t.offline, self.font(int(28 * u), True), self.c.highlight,
                       (int(40 * u), int(92 * u)))
        clock_font.render_to(surface, (clock_x, int(16 * u)), view.clock, self.c.header_text)
        date_font = self.font(int(26 * u))
        r = date_font.get_rect(view.date)
        date_font.render_to(surface, (w - int(40 * u) - r.width, int(98 * u)), view.date, self.c.header_text)
        return bar.bottom

    def _calls(self, surface: pygame.Surface, view: BoardView, body: pygame.Rect) -> None:
        u = self.unit
        left, right = self._columns(body)
        # column titles
        head_font = self.font(int(34 * u), True)
        num_x, ctr_x = left.left + int(40 * u), left.left + int(left.width * 0.68)
        self._text(surface, self.t.number, head_font, self.c.muted, (num_x, left.top))
        self._text(surface, self.t.counter, head_font, self.c.muted, (ctr_x, left.top))
        top = left.top + int(60 * u)
        if not view.calls:
            self._text(surface, self.t.no_calls, self.font(int(44 * u)), self.c.muted, (num_x, top + int(40 * u)))
        for i in range(len(view.calls)):
            self.draw_call(surface, view, i, left)
        # waiting per area
        pygame.draw.rect(surface, self.c.panel, right, border_radius=int(18 * u))
        self._text(surface, self.t.waiting_title, self.font(int(40 * u), True), self.c.text,
                   (right.left + int(30 * u), right.top + int(24 * u)))
        n = max(1, len(view.areas))
        line_h = min(int(90 * u), (right.height - int(110 * u)) // n)
        name_font = self.font(max(14, int(min(30 * u, line_h * 0.42))))
        count_font = self.font(max(16, int(min(48 * u, line_h * 0.7))), True)
        y = right.top + int(96 * u)
        letter_font = self.font(max(14, int(min(36 * u, line_h * 0.55))), True)
        letter_w = max((letter_font.get_rect(a.prefix).width for a in view.areas if a.prefix), default=0)
        for area in view.areas:
            count = str(area.waiting)
            cw = count_font.get_rect(count).width
            x = right.left + int(30 * u)
            if area.prefix:  # the letter on the citizen's ticket, so "B" finds its queue at a glance
                letter_font.render_to(surface, (x, y + (line_h - letter_font.get_sized_height()) // 2), area.prefix,
                                      self.c.number)
            if letter_w:
                x += letter_w + int(20 * u)
            name_w = right.right - x - cw - int(70 * u)
            name = self._ellipsis(area.name, name_font, name_w)
            name_font.render_to(surface, (x, y + (line_h - name_font.get_sized_height()) // 2), name, self.c.text)
            count_font.render_to(surface, (right.right - int(30 * u) - cw,
                                           y + (line_h - count_font.get_sized_height()) // 2), count, self.c.number)
            y += line_h

    def _body(self, surface: pygame.Surface) -> pygame.Rect:
        u = self._u(surface)
        w, _ = surface.get_size()
        header = int(130 * u)
        return pygame.Rect(int(30 * u), header + int(24 * u), w - int(60 * u),
                           self.notice_rect(surface).top - header - int(48 * u))

    def _columns(self, body: pygame.Rect) -> tuple[pygame.Rect, pygame.Rect]:
        """The calls and the waiting queues: side by side on a landscape TV, one above the other upright."""
        gap = int(30 * self.unit)
        if body.height > body.width:
            calls_h = int(body.height * 0.62)
            return (pygame.Rect(body.left, body.top, body.width, calls_h),
                    pygame.Rect(body.left, body.top + calls_h + gap, body.width, body.height - calls_h - gap))
        left = pygame.Rect(body.left, body.top, int(body.width * 0.64), body.height)
        return left, pygame.Rect(left.right + gap, body.top, body.right - left.right - gap, body.height)

    def calls_column(self, surface: pygame.Surface) -> pygame.Rect:
        return self._columns(self._body(surface))[0]

    def draw_call(self, surface: pygame.Surface, view: BoardView, i: int, left: pygame.Rect | None = None) -> pygame.Rect:
        """Row ``i`` of the calls list (0: the newest, large, lit while it flashes); returns its rectangle."""
        u = self.unit
        left = left or self.calls_column(surface)
        num_x, ctr_x = left.left + int(40 * u), left.left + int(left.width * 0.68)
        top = left.top + int(60 * u)
        first_h = int(210 * u)
        rest_h = (left.bottom - top - first_h - int(16 * u)) // max(1, self.s.recent_calls - 1)
        y = top if i == 0 else top + first_h + (i - 1) * rest_h
        h = first_h if i == 0 else rest_h
        call = view.calls[i]
        row = pygame.Rect(left.left, y, left.width, h - int(12 * u))
        surface.fill(self.c.background, row)
        lit = i == 0 and view.flash is not False
        pygame.draw.rect(surface, self.c.highlight if lit else self.c.panel, row, border_radius=int(18 * u))
        ink = self.c.highlight_text if lit else (self.c.number if i == 0 else self.c.text)
        size = int((150 if i == 0 else min(80, rest_h * 0.7 / u)) * u)
        num_font = self.font(size, True)
        ny = row.centery - num_font.get_sized_height() // 2 + int(size * 0.1)
        num_font.render_to(surface, (num_x, ny), call.number, ink)
        arrow_font = self.font(int(size * 0.6), True)
        arrow_x = ctr_x - arrow_font.get_rect("→").width - int(50 * u)
        arrow_font.render_to(surface, (arrow_x, row.centery - arrow_font.get_sized_height() // 2 + int(size * 0.05)),
                             "→", ink)
        num_font.render_to(surface, (ctr_x, ny), str(call.counter), ink)
        return row

    def _ready(self, surface: pygame.Surface, view: BoardView, body: pygame.Rect) -> None:
        u = self.unit
        self._text(surface, self.t.ready_title, self.font(int(64 * u), True), self.c.number, (body.left, body.top))
        self._text(surface, self.t.ready_hint, self.font(int(32 * u)), self.c.muted,
                   (body.left, body.top + int(86 * u)))
        top = body.top + int(150 * u)
        cols = 1 if body.height > body.width else 2  # an upright TV: one long code per line
        rows = max(1, (len(view.ready) + cols - 1) // cols)
        cell_w = (body.width - int(30 * u)) // cols
        cell_h = min(int(120 * u), (body.bottom - top) // rows)
        code_font = self.font(int(min(40 * u, cell_h * 0.4)), True)
        proc_font = self.font(int(min(26 * u, cell_h * 0.26)))
        for i, row in enumerate(view.ready):
            x = body.left + (i % cols) * (cell_w + int(30 * u))
            y = top + (i // cols) * cell_h
            cell = pygame.Rect(x, y, cell_w, cell_h - int(12 * u))
            pygame.draw.rect(surface, self.c.panel, cell, border_radius=int(14 * u))
            code_font.render_to(surface, (x + int(24 * u), y + int(12 * u)), row.code, self.c.text)
            proc_font.render_to(surface, (x + int(24 * u), y + int(12 * u) + code_font.get_sized_height()),
                                self._ellipsis(row.procedure, proc_font, cell_w - int(48 * u)), self.c.muted)

    def _figures(self, surface: pygame.Surface, view: BoardView, body: pygame.Rect) -> None:
        u = self.unit
        f = view.figures
        self._text(surface, self.t.figures_title, self.font(int(64 * u), True), self.c.number, (body.left, body.top))
        if f is None:
            return
        tiles = [
            (self.t.served, str(f.served_today)),
            (self.t.issued, str(f.issued_today)),
            (self.t.average_wait, "–" if f.average_wait_min is None else self.t.wait_text(f.average_wait_min)),
            (self.t.satisfaction, "–" if f.satisfied_pct is None else f"{f.satisfied_pct:.0f}%"),
        ]
        top = body.top + int(130 * u)
        gap = int(30 * u)
        tw = (body.width - gap) // 2
        th = (body.bottom - top - gap) // 2
        for i, (label, value) in enumerate(tiles):
            r = pygame.Rect(body.left + (i % 2) * (tw + gap), top + (i // 2) * (th + gap), tw, th)
            pygame.draw.rect(surface, self.c.panel, r, border_radius=int(20 * u))
            self._text(surface, label, self.fit(label, int(40 * u), tw - int(60 * u)), self.c.muted,
                       (r.left + int(30 * u), r.top + int(24 * u)))
            vf = self.font(int(min(120 * u, th * 0.5)), True)
            vf.render_to(surface, (r.left + int(30 * u), r.bottom - vf.get_sized_height() - int(20 * u)), value,
                         self.c.number)

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _text(surface: pygame.Surface, text: str, font: CachedFont, colour, at: tuple[int, int]) -> None:
        font.render_to(surface, at, text, colour)

    @staticmethod
    def _ellipsis(text: str, font: CachedFont, width: int) -> str:
        if font.get_rect(text).width <= width:
            return text
        while text and font.get_rect(text + "…").width > width:
            text = text[:-1]
        return text.rstrip() + "…"
