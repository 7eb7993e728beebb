"""Drawing the pad's screens with pygame. Pure drawing: a View in, a frame and its touch targets out.

Layout is proportional to the surface, so the same code serves 1280x800 and
any other screen. Large targets, high contrast, and faces whose expression
reads without words (many citizens are elderly, some cannot read small print).
Every screen that asks something has "Aa Chữ to" in its header: larger text and
high-contrast colours for this citizen (``screen.large_text_scale``,
``screen.high_contrast``).
"""

from __future__ import annotations

import math

import pygame

from motcua.touchscreen import CachedFont, Fonts, Targets, antialiased, wrap_words

from .config import PadSettings
from .model import View


class Painter:
    def __init__(self, settings: PadSettings):
        self.s = settings
        self.c = settings.screen.colours
        self.t = settings.texts
        self.fonts = Fonts(settings.screen)
        self._pictures: dict[tuple, pygame.Surface] = {}  # faces and ticks, drawn once per size
        self.k = 1.0  # text scale: larger in the large-text mode

    def font(self, size: int, bold: bool = False) -> CachedFont:
        return self.fonts(int(size * self.k), bold)

    def fit(self, texts: list[str], size: int, width: int, bold: bool = False) -> CachedFont:
        """The largest font up to ``size`` in which every one of ``texts`` fits on one line of ``width``."""
        while size > 12 and any(self.font(size, bold).get_rect(t).width > width for t in texts):
            size -= 2
        return self.font(size, bold)

    # ------------------------------------------------------------------ entry point

    def draw(self, surface: pygame.Surface, view: View) -> Targets:
        screen = self.s.screen
        self.c = screen.high_contrast if view.large else screen.colours
        self.k = screen.large_text_scale if view.large else 1.0
        surface.fill(self.c.background)
        w, h = surface.get_size()
        self.portrait = h > w
        # designed at 1280x800 landscape (800x1280 in portrait); the design block is centred vertically
        self.unit = min(w / 800, h / 1280) if self.portrait else min(w / 1280, h / 800)
        self.oy = max(0, (h - int(800 * self.unit)) // 2)
        draw = getattr(self, f"_{view.screen}")
        targets = draw(surface, view)
        if not view.connected:  # a quiet marker for the technician; ratings are kept meanwhile
            pygame.draw.circle(surface, self.c.muted, (w - int(24 * self.unit), int(24 * self.unit)), int(8 * self.unit))
        return targets

    # ------------------------------------------------------------------ screens

    def _header(self, surface: pygame.Surface, view: View, title: str, targets: Targets) -> int:
        """The red bar: the question (on two lines when one would make it small), who serves, and the
        large-text switch on the right (it goes into ``targets``)."""
        w, _ = surface.get_size()
        u = self.unit
        hk = 1 + (self.k - 1) * 1.2  # the bar grows with the text: two lines of large words and who serves
        bar = pygame.Rect(0, 0, w, int(150 * u * hk))
        pygame.draw.rect(surface, self.c.header, bar)
        gap = int(20 * u)
        toggle = pygame.Rect(0, 0, int(190 * u), int(110 * u))
        toggle.midright = (w - gap, bar.centery)
        pygame.draw.rect(surface, self.c.header_text, toggle, border_radius=int(16 * u))
        label = f"Aa {self.t.large_text_off if view.large else self.t.large_text_on}"
        self.text(surface, label, self.fonts(int(28 * u), True), self.c.header, toggle.center,
                  width=toggle.width - int(16 * u))  # its own size in both modes: the switch stays where it was
        targets["mode:large"] = toggle
        width = toggle.left - 2 * gap  # the words keep clear of the switch
        centre = gap + width // 2
        font = self.fit([title], int(44 * u), width, True)
        if font.size < int(32 * u * self.k):  # one line would be too small to read: two lines instead
            font = self.font(int(32 * u), True)
        self.text(surface, title, font, self.c.header_text, (centre, int(58 * u * hk)), width=width)
        sub = view.counter_name
        if view.ticket_number:
            sub += f"   ·   {self.t.ticket} {view.ticket_number}"
        if view.officer_name:
            sub += f"   ·   {self.t.officer} {view.officer_name}"
        self.text(surface, sub, self.fit([sub], int(28 * u), width), self.c.header_text, (centre, int(124 * u * hk)))
        return bar.bottom

    def _idle(self, surface: pygame.Surface, view: View) -> Targets:
        w, h = surface.get_size()
        u = self.unit
        pygame.draw.rect(surface, self.c.header, pygame.Rect(0, 0, w, int(40 * u)))
        lines = [(view.counter_name.upper(), self.font(int(120 * u), True), self.c.header, int(40 * u))]
        if view.officer_name:
            lines.append((f"{self.t.officer}: {view.officer_name}", self.font(int(46 * u)), self.c.text, int(80 * u)))
        lines += [(self.t.idle_title, self.font(int(40 * u), True), self.c.text, int(20 * u)),
                  (self.t.idle_hint, self.font(int(30 * u)), self.c.muted, 0)]
        bottom = self.stack(surface, lines, None, below=int(150 * u) if self.s.allow_general else 0)
        targets: Targets = {}
        if self.s.allow_general:
            r = pygame.Rect(0, 0, int(420 * u), int(100 * u))
            r.midtop = (w // 2, max(bottom + int(50 * u), self.oy + int(630 * u)))
            self.button(surface, r, self.t.general, self.c.satisfied)
            targets["general"] = r
        return targets

    def _rating(self, surface: pygame.Surface, view: View) -> Targets:
        w, h = surface.get_size()
        u = self.unit
        targets: Targets = {}
        top = self._header(surface, view, self.t.question, targets)
        gap = int(30 * u)
        if self.portrait:  # three wide rows, the face on the left, the words beside it
            bw, bh = w - 2 * gap, (h - top - 4 * gap) // 3
            label_w = bw - int(bh * 0.9) - int(30 * u)
        else:  # three tall columns, the face above the words
            bw, bh = (w - 4 * gap) // 3, h - top - 2 * gap
            label_w = bw - int(30 * u)
        labels = [self.t.very_satisfied, self.t.satisfied, self.t.unsatisfied]
        label_font = self.fit(labels, int(46 * u), label_w, True)  # one size for all three
        for i, (level, label, colour, mood) in enumerate((
            ("very_satisfied", self.t.very_satisfied, self.c.very_satisfied, 1.0),
            ("satisfied", self.t.satisfied, self.c.satisfied, 0.45),
            ("unsatisfied", self.t.unsatisfied, self.c.unsatisfied, -0.8),
        )):
            if self.portrait:
                r = pygame.Rect(gap, top + gap + i * (bh + gap), bw, bh)
                face_r = int(bh * 0.32)
                face_at, label_at = (r.left + int(bh * 0.45), r.centery), (r.left + int(bh * 0.9), r.centery)
            else:
                r = pygame.Rect(gap + i * (bw + gap), top + gap, bw, bh)
                face_r = int(min(bw, bh) * 0.28)
                face_at, label_at = (r.centerx, r.top + int(bh * 0.40)), (r.centerx, r.top + int(bh * 0.83))
            pygame.draw.rect(surface, colour, r, border_radius=int(28 * u))
            self.face(surface, face_at, face_r, mood)
            self.text(surface, label, label_font, self.c.button_text, label_at,
                      align="left" if self.portrait else "center")
            targets[f"level:{level}"] = r
        return targets

    def _reasons(self, surface: pygame.Surface, view: View) -> Targets:
        w, h = surface.get_size()
        u = self.unit
        targets: Targets = {}
        top = self._header(surface, view, self.t.reasons_title, targets)
        cols, gap = (1 if self.portrait else 2), int(24 * u)
        rows = math.ceil(len(self.s.reasons) / cols)
        area_h = h - top - int(170 * u)
        rh = min(int(110 * u), (area_h - (rows + 1) * gap) // max(rows, 1))
        cw = (w - (cols + 1) * gap) // cols
        for i, reason in enumerate(self.s.reasons):
            col, row = i % cols, i // cols
            r = pygame.Rect(gap + col * (cw + gap), top + gap + row * (rh + gap), cw, rh)
            chosen = reason.code in view.reasons
            pygame.draw.rect(surface, self.c.selected if chosen else (255, 255, 255), r, border_radius=int(16 * u))
            pygame.draw.rect(surface, self.c.unsatisfied, r, width=max(2, int(4 * u)), border_radius=int(16 * u))
            box = pygame.Rect(r.left + int(22 * u), r.centery - int(22 * u), int(44 * u), int(44 * u))
            pygame.draw.rect(surface, self.c.text, box, width=max(2, int(4 * u)))
            if chosen:
                self.tick_mark(surface, box, self.c.text)
            self.text(surface, reason.label, self.font(int(32 * u)), self.c.text,
                      (box.right + int(20 * u), r.centery), align="left", width=r.width - box.width - int(60 * u))
            targets[f"reason:{reason.code}"] = r
        send = pygame.Rect(0, 0, (w - 3 * gap) // 2 if self.portrait else int(420 * u), int(110 * u))
        send.bottomright = (w - gap, h - gap)
        self.button(surface, send, self.t.send, self.c.very_satisfied)
        targets["send"] = send
        back = pygame.Rect(0, 0, send.width if self.portrait else int(340 * u), int(110 * u))
        back.bottomleft = (gap, h - gap)
        self.button(surface, back, f"◀ {self.t.back}", self.c.muted)
        targets["back"] = back
        return targets

    def _indicators(self, surface: pygame.Surface, view: View) -> Targets:
        """One indicator a page: its words large and three large score buttons (not a grid of small ones);
        when all are answered, the answers and a large "send". "Back" undoes the last answer."""
        w, h = surface.get_size()
        u = self.unit
        targets: Targets = {}
        top = self._header(surface, view, self.t.indicators_title, targets)
        scores = dict(view.scores)
        indicators = self.s.indicators
        current = next((i for i, ind in enumerate(indicators) if ind.code not in scores), None)
        gap = int(30 * u)
        bar_h = int(120 * u)
        bottom = h - bar_h - 2 * gap
        if scores:
            back = pygame.Rect(gap, h - bar_h - gap, int(360 * u), bar_h)
            self.button(surface, back, f"◀ {self.t.back}", self.c.muted)
            targets["back"] = back
        if current is None:  # every indicator answered: what was chosen, then send
            row_h = min(int(56 * u), (bottom - top - gap) // max(1, len(indicators)))
            font = self.font(max(12, int(min(28 * u, row_h * 0.55))))
            for i, ind in enumerate(indicators):
                y = top + gap // 2 + i * row_h + row_h // 2
                self.text(surface, f"{i + 1}. {ind.label}: {self.t.score_labels[scores[ind.code]]}", font,
                          self.c.text, (gap, y), align="left", width=w - 2 * gap)
            send = pygame.Rect(w - gap - int(480 * u), h - bar_h - gap, int(480 * u), bar_h)
            self.button(surface, send, self.t.send, self.c.very_satisfied)
            targets["send"] = send
            return targets
        ind = indicators[current]
        step = f"{current + 1}/{len(indicators)}"
        self.text(surface, step, self.font(int(30 * u), True), self.c.muted, (w // 2, top + int(40 * u)))
        label_font = self.font(int(40 * u), True)
        label_h = len(self.wrap(ind.label, label_font, w - 4 * gap)) * label_font.get_sized_height()
        label_top = top + int(80 * u)
        self.text(surface, ind.label, label_font, self.c.text, (w // 2, label_top + label_h // 2), width=w - 4 * gap)
        row_top = max(top + int(220 * u), label_top + label_h + gap)  # large text: the answers move down
        bw = (w - 4 * gap) // 3
        bh = max(int(120 * u), bottom - row_top)
        label_font = self.fit(self.t.score_labels, int(48 * u), bw - int(20 * u), True)
        for score, colour in enumerate((self.c.unsatisfied, self.c.satisfied, self.c.very_satisfied)):
            r = pygame.Rect(gap + score * (bw + gap), row_top, bw, bh)
            pygame.draw.rect(surface, colour, r, border_radius=int(24 * u))
            self.text(surface, self.t.score_labels[score], label_font, self.c.button_text, r.center)
            targets[f"score:{ind.code}:{score}"] = r
        return targets

    def _thanks(self, surface: pygame.Surface, view: View) -> Targets:
        w, h = surface.get_size()
        u = self.unit
        pygame.draw.rect(surface, self.c.very_satisfied, pygame.Rect(0, 0, w, int(40 * u)))
        r = int(110 * u)
        cy = self.oy + int(260 * u)
        pygame.draw.circle(surface, self.c.very_satisfied, (w // 2, cy), r)
        self.tick_mark(surface, pygame.Rect(w // 2 - r // 2, cy - r // 2, r, r), (255, 255, 255), 14)
        self.stack(surface, [(self.t.thanks, self.font(int(60 * u), True), self.c.text, int(30 * u)),
                             (self.t.thanks_hint, self.font(int(34 * u)), self.c.muted, 0)], cy + r + int(60 * u))
        return {}

    def stack(self, surface: pygame.Surface, lines: list[tuple[str, CachedFont, tuple, int]], top: int | None,
              below: int = 0) -> int:
        """Centred paragraphs one under the other from ``top`` (each wrapped, then its space after), or centred
        on the screen with room for ``below`` under them when ``top`` is None; returns the bottom. Wrapped lines
        push the next paragraph down instead of running into it."""
        w, h = surface.get_size()
        width = w - int(100 * self.unit)
        if top is None:
            total = sum(font.get_sized_height() * (len(self.wrap(text, font, width)) or 1) + after
                        for text, font, colour, after in lines)
            top = max(int(60 * self.unit), (h - total - below) // 2)
        for text, font, colour, after in lines:
            n = len(self.wrap(text, font, width)) or 1
            height = font.get_sized_height() * n
            self.text(surface, text, font, colour, (w // 2, top + height // 2), width=width)
            top += height + after
        return top

    # ------------------------------------------------------------------ pieces

    def text(self, surface: pygame.Surface, text: str, font: CachedFont, colour, at: tuple[int, int],
             align: str = "center", width: int | None = None) -> None:
        """Draw text centred (or left-aligned) on ``at``, wrapped onto lines to fit ``width``."""
        lines = self.wrap(text, font, width) if width else [text]
        line_h = font.get_sized_height()
        y = at[1] - line_h * len(lines) // 2
        for line in lines:
            rect = font.get_rect(line)
            x = at[0] - rect.width // 2 if align == "center" else at[0]
            font.render_to(surface, (x, y + (line_h - rect.height) // 2), line, colour)
            y += line_h

    wrap = staticmethod(wrap_words)

    def button(self, surface: pygame.Surface, rect: pygame.Rect, label: str, colour) -> None:
        pygame.draw.rect(surface, colour, rect, border_radius=int(20 * self.unit))
        self.text(surface, label, self.font(int(36 * self.unit), True), self.c.button_text, rect.center,
                  width=rect.width - 20)

    def face(self, surface: pygame.Surface, centre: tuple[int, int], radius: int, mood: float) -> None:
        """A face: mood 1 beams, 0 is flat, -1 frowns. Drawn once per size and mood, antialiased."""
        key = ("face", radius, mood)
        img = self._pictures.get(key)
        if img is None:
            img = self._pictures[key] = antialiased((2 * radius + 2, 2 * radius + 2),
                                                    lambda big, k: _draw_face(big, radius * k, k, mood))
        surface.blit(img, (centre[0] - radius - 1, centre[1] - radius - 1))

    def tick_mark(self, surface: pygame.Surface, box: pygame.Rect, colour, width: int = 6) -> None:
        """A tick that stays inside ``box``, antialiased."""
        stroke = max(3, int(width * self.unit))
        key = ("tick", box.size, tuple(colour), stroke)
        img = self._pictures.get(key)
        if img is None:
            img = self._pictures[key] = antialiased(box.size, lambda big, k: _draw_tick(big, colour, stroke * k))
        surface.blit(img, box.topleft)


INK = (40, 40, 40)


def _thick_polyline(surface: pygame.Surface, colour, points: list[tuple[float, float]], width: float) -> None:
    """A stroke of ``width`` through ``points`` with round joints and ends: no gaps, whatever the curve."""
    half = width / 2
    for (x1, y1), (x2, y2) in zip(points, points[1:]):
        dx, dy = x2 - x1, y2 - y1
        length = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / length * half, dx / length * half
        pygame.draw.polygon(surface, colour, [(x1 + nx, y1 + ny), (x2 + nx, y2 + ny), (x2 - nx, y2 - ny),
                                              (x1 - nx, y1 - ny)])
    for x, y in points:
        pygame.draw.circle(surface, colour, (x, y), half)


def _draw_face(big: pygame.Surface, radius: float, k: int, mood: float) -> None:
    c = big.get_width() / 2
    pygame.draw.circle(big, (255, 255, 255), (c, c), radius)
    eye = max(3 * k, radius / 9)
    for dx in (-radius / 3, radius / 3):
        pygame.draw.circle(big, INK, (c + dx, c - radius / 4), eye)
    width = max(3 * k, radius / 11)
    half_w = radius * 0.42
    depth = radius * 0.28 * mood  # the middle of the mouth below (smile) or above (frown) its corners
    base = c + radius * (0.22 if mood >= 0 else 0.52)
    points = [(c + t * half_w, base + depth * (1 - t * t)) for t in (i / 16 - 1 for i in range(33))]
    _thick_polyline(big, INK, points, width)


def _draw_tick(big: pygame.Surface, colour, stroke: float) -> None:
    w, h = big.get_size()
    inset = stroke / 2 + max(w, h) * 0.08
    pts = [(0.18, 0.52), (0.42, 0.76), (0.84, 0.24)]
    _thick_polyline(big, colour, [(inset + (w - 2 * inset) * x, inset + (h - 2 * inset) * y) for x, y in pts], stroke)
