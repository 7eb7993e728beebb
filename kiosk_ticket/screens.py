"""Drawing the kiosk's screens with pygame. Pure drawing: a View in, a frame and its touch targets out.

Many of the citizens are elderly and have never used a kiosk: few choices per
screen, big buttons (at least 150 px high on a 1080 px-wide screen), plain
words, high contrast, and "Quay lại" / "Về trang chính" always at the bottom.
Layout is proportional: the same code draws portrait 1080x1920 and landscape.
"""

from __future__ import annotations

import pygame

from motcua.touchscreen import CachedFont, Fonts, Targets, wrap_words

from .config import KioskSettings
from .model import KEYPAD_ROWS, SEARCH_KEYS, View


class Painter:
    def __init__(self, settings: KioskSettings):
        self.s = settings
        self.c = settings.screen.colours
        self.t = settings.texts
        self.fonts = Fonts(settings.screen)
        self.scroll_limit = 0
        self.u = 1.0
        self.k = 1.0  # text scale: larger in the large-text mode

    # ------------------------------------------------------------------ text helpers

    def font(self, size: float, bold: bool = False) -> CachedFont:
        return self.fonts(max(10, size * self.k), bold)

    @staticmethod
    def wrap(text: str, font: CachedFont, width: int) -> list[str]:
        """Wrapped line by line: the kiosk's texts break where their writer broke them (an empty line kept)."""
        return [line for paragraph in text.splitlines() or [""] for line in wrap_words(paragraph, font, width) or [""]]

    def text(self, surface: pygame.Surface, text: str, font: CachedFont, colour, center: tuple[int, int],
             width: int | None = None, line_gap: float = 1.3, keep: bool = True) -> int:
        """Draw ``text`` centred on ``center`` (wrapped to ``width``); returns the height used. ``keep=False``:
        words shown once (a ticket's own figures), not kept among the reused renderings."""
        lines = self.wrap(text, font, width) if width else [text]
        step = int(font.size * line_gap)
        top = center[1] - step * len(lines) // 2
        for i, line in enumerate(lines):
            r = font.get_rect(line)
            r.center = (center[0], top + step * i + step // 2)
            font.render_to(surface, r, line, colour, keep=keep)
        return step * len(lines)

    def left_text(self, surface: pygame.Surface, text: str, font: CachedFont, colour, x: int, y: int,
                  width: int, line_gap: float = 1.3) -> int:
        """Draw ``text`` from its top-left corner, wrapped; returns the height used."""
        step = int(font.size * line_gap)
        for i, line in enumerate(self.wrap(text, font, width)):
            font.render_to(surface, (x, y + step * i + int(font.size * 0.15)), line, colour)
            y_end = step * (i + 1)
        return y_end if text else 0

    def button(self, surface: pygame.Surface, rect: pygame.Rect, label: str, colour, hint: str | None = None,
               size: float = 56) -> None:
        """A rounded button: its label (wrapped, shrunk until every word fits) and an optional hint below."""
        u = self.u
        pygame.draw.rect(surface, colour, rect, border_radius=int(24 * u))
        pad = int(30 * u)
        width = rect.width - 2 * pad
        font = self.font(size * u, True)
        hint_font = self.font(size * 0.68 * u)

        def height() -> int:
            h = len(self.wrap(label, font, width)) * int(font.size * 1.2)
            return h + (len(self.wrap(hint, hint_font, width)) * int(hint_font.size * 1.25) if hint else 0)

        while font.size > 18 and (any(font.get_rect(w).width > width for w in label.split())
                                  or height() > rect.height - pad // 2):
            font = self.fonts(font.size - 2, True)  # sizes already scaled: the faces directly
            hint_font = self.fonts(max(14, int(font.size * 0.68)))
        top = rect.centery - height() // 2
        for fnt, text, gap in ((font, label, 1.2), (hint_font, hint, 1.25)):
            if not text:
                continue
            for line in self.wrap(text, fnt, width):
                r = fnt.get_rect(line)
                r.center = (rect.centerx, top + int(fnt.size * gap) // 2)
                fnt.render_to(surface, r, line, self.c.button_text)
                top += int(fnt.size * gap)

    # ------------------------------------------------------------------ entry point

    def draw(self, surface: pygame.Surface, view: View) -> Targets:
        screen = self.s.screen
        self.c = screen.high_contrast if view.large else screen.colours
        self.k = screen.large_text_scale if view.large else 1.0
        surface.fill(self.c.background)
        w, h = surface.get_size()
        self.u = min(w, h) / 1080
        self.portrait = h >= w
        self.scroll_limit = 0
        targets: Targets = getattr(self, f"_{view.screen}")(surface, view)
        if view.screen not in ("idle", "home"):
            targets.update(self._nav(surface, view))
        if not view.connected:  # a quiet marker for the technician
            pygame.draw.circle(surface, self.c.muted, (w - int(24 * self.u), int(24 * self.u)), int(8 * self.u))
        return targets

    # ------------------------------------------------------------------ frame parts

    def _header(self, surface: pygame.Surface, view: View, title: str) -> int:
        w, _ = surface.get_size()
        u = self.u
        k = 1.0 if self.portrait else 0.8  # a landscape screen is short: thinner bars leave room for the content
        bar = pygame.Rect(0, 0, w, int(230 * u * k))
        pygame.draw.rect(surface, self.c.header, bar)
        # the header keeps its height in the large-text mode: the hall's name as usual, the title as large as
        # one line allows
        self.text(surface, view.hall_name, self.fonts(34 * u, True), self.c.header_text, (w // 2, int(60 * u * k)),
                  w - int(60 * u))
        title_font = self.font(54 * u, True)
        while title_font.size > 54 * u and title_font.get_rect(title).width > w - int(60 * u):
            title_font = self.fonts(title_font.size - 4, True)
        self.text(surface, title, title_font, self.c.header_text, (w // 2, int(160 * u * k)), w - int(60 * u))
        return bar.bottom

    def _footer_top(self, surface: pygame.Surface) -> int:
        return surface.get_height() - int(200 * self.u * (1.0 if self.portrait else 0.8))

    def _nav(self, surface: pygame.Surface, view: View) -> Targets:
        w, h = surface.get_size()
        u = self.u
        top = self._footer_top(surface)
        pygame.draw.rect(surface, (225, 228, 232), pygame.Rect(0, top, w, h - top))
        gap = int(30 * u)
        bw = (w - 3 * gap) // 2
        back = pygame.Rect(gap, top + gap, bw, h - top - 2 * gap)
        home = pygame.Rect(2 * gap + bw, top + gap, bw, h - top - 2 * gap)
        if view.screen in ("issuing", "looking_up"):
            return {}  # nothing to go back to while the number is being printed
        self.button(surface, back, f"◀ {self.t.back}", self.c.nav, size=42)
        self.button(surface, home, f"⌂ {self.t.home}", self.c.nav, size=42)
        return {"nav:back": back, "nav:home": home}

    def _content(self, surface: pygame.Surface, top: int) -> pygame.Rect:
        w, _ = surface.get_size()
        m = int(40 * self.u)
        return pygame.Rect(m, top + m, w - 2 * m, self._footer_top(surface) - top - 2 * m)

    def _grid(self, area: pygame.Rect, n: int, max_h: int, cols: int | None = None,
              gap: int | None = None) -> list[pygame.Rect]:
        cols = cols or (1 if self.portrait else 2)
        rows = max(1, -(-n // cols))
        gap = int(24 * self.u) if gap is None else gap
        rh = min(max_h, (area.height - (rows - 1) * gap) // rows)
        cw = (area.width - (cols - 1) * gap) // cols
        return [pygame.Rect(area.left + (i % cols) * (cw + gap), area.top + (i // cols) * (rh + gap), cw, rh)
                for i in range(n)]

    # ------------------------------------------------------------------ screens

    def _idle(self, surface: pygame.Surface, view: View) -> Targets:
        w, h = surface.get_size()
        u = self.u
        pygame.draw.rect(surface, self.c.header, pygame.Rect(0, 0, w, int(h * 0.42)))
        self.text(surface, view.hall_name, self.font(64 * u, True), self.c.header_text, (w // 2, int(h * 0.2)),
                  w - int(120 * u))
        self.text(surface, self.t.idle_title, self.font(62 * u, True), self.c.text, (w // 2, int(h * 0.55)),
                  w - int(120 * u))
        r = pygame.Rect(0, 0, w - int(160 * u), int(220 * u))
        r.center = (w // 2, int(h * 0.75))
        self.button(surface, r, self.t.idle_hint, self.c.primary, size=56)
        return {"idle": surface.get_rect()}  # a touch anywhere starts

    def _home(self, surface: pygame.Surface, view: View) -> Targets:
        top = self._header(surface, view, self.t.home_title)
        area = pygame.Rect(0, 0, 0, 0)
        area.update(self._content(surface, top))
        toggle_h = int(130 * self.u)
        area.height = surface.get_height() - area.top - int(60 * self.u) - toggle_h - int(30 * self.u)
        items: list[tuple[str, str, str | None, tuple[int, int, int]]] = (
            [("take", self.t.take_number, self.t.take_number_hint, self.c.primary)] if view.tickets else [])
        if view.tickets and view.single_area and view.categories:  # a one-area hall prints from here: priority is its own button
            items.append(("priority", self.t.priority_path, None, self.c.priority))
        items += [("dossier", self.t.dossier, self.t.dossier_hint, self.c.secondary),
                  ("procedures", self.t.procedures, self.t.procedures_hint, self.c.tertiary)]
        rects = self._grid(area, len(items), int(440 * self.u), cols=1 if self.portrait else len(items))
        targets: Targets = {}
        for rect, (key, label, hint, colour) in zip(rects, items):
            self.button(surface, rect, label, colour, hint, size=72)
            targets[f"home:{key}"] = rect
        toggle = pygame.Rect(area.left, area.bottom + int(30 * self.u), area.width, toggle_h)
        pygame.draw.rect(surface, self.c.text, toggle, width=max(3, int(5 * self.u)), border_radius=int(24 * self.u))
        self.text(surface, f"Aa  {self.t.large_text_off if view.large else self.t.large_text_on}",
                  self.font(46 * self.u, True), self.c.text, toggle.center, toggle.width - int(40 * self.u))
        targets["mode:large"] = toggle
        return targets

    def _areas(self, surface: pygame.Surface, view: View) -> Targets:
        u = self.u
        top = self._header(surface, view, self.t.choose_area_priority if view.priority else self.t.choose_area)
        area = self._content(surface, top)
        if not view.areas:
            self.text(surface, self.t.no_areas, self.font(48 * u), self.c.muted, area.center, area.width)
            return {}
        targets: Targets = {}
        if view.categories:  # priority is its own choice, made before the area (whose touch prints)
            pr = pygame.Rect(area.left, area.top, area.width, int((150 if self.portrait else 110) * u))
            label = self.t.priority_chosen.format(name=view.priority[1]) if view.priority else self.t.priority_path
            self.button(surface, pr, label, self.c.priority, size=46)
            targets["priority"] = pr
            area = pygame.Rect(area.left, pr.bottom + int(40 * u), area.width, area.bottom - pr.bottom - int(40 * u))
        for rect, a in zip(self._grid(area, len(view.areas), int(260 * u)), view.areas):
            hint = self.t.waiting.format(n=a.waiting) if a.waiting is not None else None
            if a.closed:
                hint = f"{hint} · {self.t.area_closed}" if hint else self.t.area_closed
            self.area_button(surface, rect, a.prefix, a.name, self.c.nav if a.closed else self.c.primary, hint)
            targets[f"area:{a.code}"] = rect
        return targets

    def area_button(self, surface: pygame.Surface, rect: pygame.Rect, letter: str, name: str, colour,
                    hint: str | None) -> None:
        """An area's button with the ticket's letter in a square on its left, as the ticket prints it."""
        u = self.u
        pygame.draw.rect(surface, colour, rect, border_radius=int(24 * u))
        if not letter:
            self.button(surface, rect, name, colour, hint, size=46)
            return
        side = min(rect.height - int(30 * u), int(170 * u))
        square = pygame.Rect(0, 0, side, side)
        square.midleft = (rect.left + int(20 * u), rect.centery)
        pygame.draw.rect(surface, self.c.button_text, square, border_radius=int(16 * u))
        font = self.font(side * 0.62, True)
        while font.size > 14 and font.get_rect(letter).width > side - int(12 * u):
            font = self.fonts(font.size - 4, True)
        r = font.get_rect(letter)
        r.center = square.center
        font.render_to(surface, r, letter, colour)
        rest = pygame.Rect(square.right, rect.top, rect.right - square.right, rect.height)
        self.button(surface, rest, name, colour, hint, size=46)

    def _confirm(self, surface: pygame.Surface, view: View) -> Targets:
        u = self.u
        top = self._header(surface, view, self.t.confirm_title)
        area = self._content(surface, top)
        gap = int(40 * u)
        if self.portrait:  # what was chosen above, the buttons below
            info = area
        else:  # side by side: what was chosen on the left, the buttons on the right
            info = pygame.Rect(area.left, area.top, (area.width - gap) // 2, area.height)
        y = info.top + int(30 * u)
        big = self.font(50 * u, True)
        if view.area:
            y += self.left_text(surface, self.t.area_label, self.font(40 * u), self.c.muted, info.left, y, info.width)
            y += self.left_text(surface, view.area.name, big, self.c.text, info.left, y, info.width) + int(20 * u)
            if view.area.waiting is not None:
                y += self.left_text(surface, self.t.waiting.format(n=view.area.waiting), self.font(44 * u),
                                    self.c.text, info.left, y, info.width) + int(20 * u)
        if view.priority:
            y += self.left_text(surface, f"{self.t.priority_label}: {view.priority[1]}", big, self.c.priority,
                                info.left, y, info.width) + int(20 * u)
        if self.portrait:
            room = pygame.Rect(area.left, max(y + gap, area.bottom - int(620 * u)), area.width, 0)
            room.height = area.bottom - room.top
        else:
            room = pygame.Rect(info.right + gap, area.top, area.width - info.width - gap, area.height)
        # the confirm button gets 300 (and the priority path 180) design pixels, less when the room is short
        want = int(300 * u)
        scale = min(1.0, room.height / want) if want else 1.0
        confirm = pygame.Rect(room.left, room.top, room.width, int(300 * u * scale))
        self.button(surface, confirm, self.t.confirm, self.c.ok, size=72)
        return {"confirm": confirm}

    def _priority(self, surface: pygame.Surface, view: View) -> Targets:
        top = self._header(surface, view, self.t.choose_priority)
        area = self._content(surface, top)
        items = list(view.categories) + [("", self.t.no_priority)]
        targets: Targets = {}
        for rect, (code, name) in zip(self._grid(area, len(items), int(240 * self.u)), items):
            self.button(surface, rect, name, self.c.priority if code else self.c.nav, size=54)
            targets[f"cat:{code}" if code else "no_priority"] = rect
        return targets

    def _busy(self, surface: pygame.Surface, view: View, message: str) -> Targets:
        w, h = surface.get_size()
        top = self._header(surface, view, self.t.take_number if view.screen == "issuing" else self.t.dossier_title)
        self.text(surface, message, self.font(60 * self.u, True), self.c.text, (w // 2, (top + h) // 2),
                  w - int(120 * self.u))
        return {}

    def _issuing(self, surface: pygame.Surface, view: View) -> Targets:
        return self._busy(surface, view, self.t.issuing)

    def _looking_up(self, surface: pygame.Surface, view: View) -> Targets:
        return self._busy(surface, view, self.t.looking_up)

    def _ticket(self, surface: pygame.Surface, view: View) -> Targets:
        u = self.u
        t = view.ticket
        assert t is not None
        top = self._header(surface, view, self.t.your_number)
        area = self._content(surface, top)
        w = surface.get_width()
        card = area.inflate(0, -int(40 * u))
        pygame.draw.rect(surface, (255, 255, 255), card, border_radius=int(30 * u))
        pygame.draw.rect(surface, self.c.header, card, width=max(3, int(8 * u)), border_radius=int(30 * u))
        inner = card.width - int(80 * u)
        # (words, font, colour, kept among the reused renderings: not this ticket's own figures)
        lines = [(t.area_name, self.font(52 * u, True), self.c.text, True)]
        if t.priority_name:
            lines.append((f"{self.t.priority_label}: {t.priority_name}", self.font(46 * u, True), self.c.priority,
                          True))
        if t.waiting_ahead is not None:
            lines.append((self.t.ahead.format(n=t.waiting_ahead), self.font(46 * u), self.c.text, False))
        if t.estimated_wait_min is not None:
            lines.append((self.t.wait_text(t.estimated_wait_min), self.font(46 * u), self.c.text, False))
        if t.area_closed:
            lines.append((self.t.ticket_area_closed, self.font(44 * u, True), self.c.error, True))
        lines.append((self.t.take_ticket_hint, self.font(44 * u, True), self.c.secondary, True))

        def height(text: str, font: CachedFont) -> int:
            return len(self.wrap(text, font, inner)) * int(font.size * 1.3)

        words_h = sum(height(text, font) for text, font, _, _ in lines) + int(20 * u) * len(lines)
        # the number takes what the words leave, up to its design size, and never wider than the card
        pad = int(30 * u)
        size = min(330 * u, (card.height - words_h - 3 * pad) / 0.8)
        while size > 30 and self.fonts(size, True).get_rect(t.number).width > card.width - int(80 * u):
            size -= 10
        number_font = self.fonts(max(30, size), True)  # fitted to the card: not scaled again
        r = number_font.get_rect(t.number)
        r.midtop = (w // 2, card.top + pad)
        number_font.render_to(surface, r, t.number, self.c.header, keep=False)
        y = r.bottom + pad
        spare = max(0, card.bottom - pad - y - words_h) // (len(lines) + 1)
        for text, font, colour, keep in lines:
            y += spare
            hgt = height(text, font)
            self.text(surface, text, font, colour, (w // 2, y + hgt // 2), inner, keep=keep)
            y += hgt + int(20 * u)
        return {}

    def _error(self, surface: pygame.Surface, view: View) -> Targets:
        w, _ = surface.get_size()
        u = self.u
        top = self._header(surface, view, self.t.take_number)
        area = self._content(surface, top)
        cy = area.top + int(area.height * 0.25)
        radius = int(110 * u)
        pygame.draw.circle(surface, self.c.error, (w // 2, cy), radius)
        bang = self.font(170 * u, True)
        r = bang.get_rect("!")
        r.center = (w // 2, cy)
        bang.render_to(surface, r, "!", (255, 255, 255))
        self.text(surface, view.message or "", self.font(56 * u, True), self.c.error,
                  (w // 2, cy + radius + int(area.height * 0.25)), area.width - int(40 * u))
        return {}

    def _dossier(self, surface: pygame.Surface, view: View) -> Targets:
        u = self.u
        top = self._header(surface, view, self.t.dossier_title)
        area = self._content(surface, top)
        y = area.top
        y += self.left_text(surface, self.t.dossier_hint_scan, self.font(40 * u), self.c.text, area.left, y,
                            area.width) + int(20 * u)
        field = pygame.Rect(area.left, y, area.width, int(130 * u))
        pygame.draw.rect(surface, (255, 255, 255), field, border_radius=int(12 * u))
        pygame.draw.rect(surface, self.c.primary, field, width=max(2, int(5 * u)), border_radius=int(12 * u))
        shown = (view.typed or "") + "▌"
        font = self.font(60 * u, True)
        while font.size > 20 and font.get_rect(shown).width > field.width - int(40 * u):
            font = self.fonts(font.size - 4, True)
        r = font.get_rect(shown)
        r.midleft = (field.left + int(24 * u), field.centery)
        font.render_to(surface, r, shown, self.c.text)
        y = field.bottom + int(30 * u)
        gap = int(24 * u)
        if self.portrait:  # the keys, then Xóa and Tra cứu across the bottom
            action_h = int(170 * u)
            grid = pygame.Rect(area.left, y, area.width, area.bottom - y - action_h - int(30 * u))
            bw = (area.width - gap) // 3
            delete = pygame.Rect(area.left, area.bottom - action_h, bw, action_h)
            lookup = pygame.Rect(delete.right + gap, area.bottom - action_h, area.width - bw - gap, action_h)
        else:  # a short screen: the keys use the whole height, Tra cứu and Xóa stacked on their right
            aw = int(area.width * 0.2)
            grid = pygame.Rect(area.left, y, area.width - aw - gap, area.bottom - y)
            lookup = pygame.Rect(grid.right + gap, y, aw, (grid.height - gap) * 3 // 5)
            delete = pygame.Rect(grid.right + gap, lookup.bottom + gap, aw, grid.bottom - lookup.bottom - gap)
        targets: Targets = {}
        for rect, key in self._keys(grid, max(4, int(12 * u))):
            pygame.draw.rect(surface, self.c.key, rect, border_radius=int(14 * u))
            pygame.draw.rect(surface, self.c.nav, rect, width=max(2, int(3 * u)), border_radius=int(14 * u))
            self.text(surface, key, self.font(min(56 * u, rect.height * 0.5), True), self.c.text, rect.center)
            targets[f"key:{key}"] = rect
        self.button(surface, delete, f"⌫ {self.t.delete}", self.c.nav, size=48)
        self.button(surface, lookup, self.t.lookup, self.c.secondary if view.typed else self.c.muted, size=60)
        targets["key:del"] = delete
        if view.typed:
            targets["lookup"] = lookup
        return targets

    def _keys(self, grid: pygame.Rect, gap: int) -> list[tuple[pygame.Rect, str]]:
        """The keypad laid out for dossier codes: one row of the ten digits (the keys most codes are made of),
        the letters in keyboard rows, the separators on the last row; every key the same size."""
        layout = KEYPAD_ROWS if self.portrait else (KEYPAD_ROWS[0] + KEYPAD_ROWS[-1],) + KEYPAD_ROWS[1:-1]
        cols = max(len(row) for row in layout)  # a short screen: the separators end the digits' row
        rows = len(layout)
        kw = (grid.width - (cols - 1) * gap) // cols
        kh = min(int(150 * self.u), (grid.height - (rows - 1) * gap) // rows)
        keys = []
        for r, row in enumerate(layout):
            left = grid.left + (grid.width - len(row) * kw - (len(row) - 1) * gap) // 2  # shorter rows centred
            for i, key in enumerate(row):
                keys.append((pygame.Rect(left + i * (kw + gap), grid.top + r * (kh + gap), kw, kh), key))
        return keys

    def _dossier_result(self, surface: pygame.Surface, view: View) -> Targets:
        u = self.u
        top = self._header(surface, view, self.t.dossier_title)
        area = self._content(surface, top)
        w = surface.get_width()
        d = view.dossier
        if d is None:
            self.text(surface, view.message or "", self.font(54 * u, True), self.c.error,
                      (w // 2, area.top + area.height // 3), area.width)
            return {}
        y = area.top + int(20 * u)
        label, value = self.font(40 * u), self.font(50 * u, True)

        def row(name: str, text: str, colour=self.c.text, font=value) -> None:
            nonlocal y
            y += self.left_text(surface, name, label, self.c.muted, area.left, y, area.width)
            y += self.left_text(surface, text, font, colour, area.left, y, area.width) + int(30 * u)

        row(self.t.dossier_code, d.code)
        if d.procedure:
            row(self.t.procedure, d.procedure, font=self.font(44 * u, True))
        row(self.t.dossier_status, d.status, self.c.primary, self.font(64 * u, True))
        if d.appointment:
            row(self.t.appointment, d.appointment)
        # a notice, not a button: a coloured bar on its left and the words on the page's own background
        font = self.font(46 * u, True)
        text = self.t.ready_yes if d.ready else self.t.ready_no
        bar = int(16 * u)
        height = len(self.wrap(text, font, area.width - 3 * bar)) * int(font.size * 1.3)
        pygame.draw.rect(surface, self.c.ok if d.ready else self.c.muted,
                         pygame.Rect(area.left, y, bar, height + int(20 * u)))
        self.left_text(surface, text, font, self.c.ok if d.ready else self.c.text, area.left + 2 * bar,
                       y + int(10 * u), area.width - 3 * bar)
        y += height + int(60 * u)
        self.left_text(surface, d.freshness, self.font(38 * u), self.c.muted, area.left, y, area.width)
        return {}

    def _proc_areas(self, surface: pygame.Surface, view: View) -> Targets:
        top = self._header(surface, view, self.t.procedures_title)
        area = self._content(surface, top)
        if not view.proc_areas:
            self.text(surface, self.t.no_procedures, self.font(48 * self.u), self.c.muted, area.center, area.width)
            return {}
        u = self.u
        search = pygame.Rect(area.left, area.top, area.width, int(130 * u))
        self.button(surface, search, self.t.search, self.c.primary, size=46)
        targets: Targets = {"search": search}
        area = pygame.Rect(area.left, search.bottom + int(30 * u), area.width, area.bottom - search.bottom - int(30 * u))
        for rect, (code, name) in zip(self._grid(area, len(view.proc_areas), int(220 * u)), view.proc_areas):
            self.button(surface, rect, name, self.c.tertiary, size=min(50, rect.height / u / 3))
            targets[f"parea:{code}"] = rect
        return targets

    def _proc_search(self, surface: pygame.Surface, view: View) -> Targets:
        """Search by name: the typed words, the first matches as buttons, a letter keyboard without marks."""
        u = self.u
        top = self._header(surface, view, self.t.search)
        area = self._content(surface, top)
        y = area.top
        y += self.left_text(surface, self.t.search_hint, self.font(38 * u), self.c.text, area.left, y, area.width)
        field = pygame.Rect(area.left, y + int(10 * u), area.width, int(110 * u))
        pygame.draw.rect(surface, (255, 255, 255), field, border_radius=int(12 * u))
        pygame.draw.rect(surface, self.c.primary, field, width=max(2, int(5 * u)), border_radius=int(12 * u))
        shown = view.query + "▌"
        font = self.font(54 * u, True)
        while font.size > 20 and font.get_rect(shown).width > field.width - int(40 * u):
            font = self.fonts(font.size - 4, True)
        r = font.get_rect(shown)
        r.midleft = (field.left + int(24 * u), field.centery)
        font.render_to(surface, r, shown, self.c.text)
        gap = int(16 * u)
        rows = len(SEARCH_KEYS) + 1
        # never under 8 mm on a small panel, whatever the design size gives
        kh = max(int((110 if self.portrait else 80) * u), int(8 * self.s.screen.px_per_mm(surface.get_size())))
        keys_top = area.bottom - rows * kh - (rows - 1) * gap
        min_h = int(8 * self.s.screen.px_per_mm(surface.get_size()))
        if self.portrait:  # the results between the words typed and the keyboard
            results = pygame.Rect(area.left, field.bottom + int(20 * u), area.width,
                                  keys_top - field.bottom - int(40 * u))
            keys = pygame.Rect(area.left, keys_top, area.width, area.bottom - keys_top)
        else:  # a short screen: the keyboard on the left, the results beside it
            kw_all = area.width * 3 // 5
            keys_top = max(keys_top, field.bottom + int(20 * u))
            keys = pygame.Rect(area.left, keys_top, kw_all, area.bottom - keys_top)
            results = pygame.Rect(keys.right + gap * 2, keys_top, area.right - keys.right - gap * 2,
                                  area.bottom - keys_top)
        found = view.procedures[:max(0, (results.height + int(12 * u)) // (min_h + int(12 * u)))]
        targets: Targets = {}
        if view.query.strip() and not view.procedures:
            self.text(surface, self.t.search_none, self.font(40 * u), self.c.muted, results.center, results.width)
        if found:
            for rect, p in zip(self._grid(results, len(found), int(130 * u), cols=1, gap=int(12 * u)), found):
                self.button(surface, rect, p.name, self.c.tertiary, size=min(40, rect.height / u / 2.6))
                targets[f"proc:{p.code}"] = rect
        cols = max(len(row) for row in SEARCH_KEYS)
        kw = (keys.width - (cols - 1) * gap) // cols
        for r_i, row in enumerate(SEARCH_KEYS):
            left = keys.left + (keys.width - len(row) * kw - (len(row) - 1) * gap) // 2
            for i, key in enumerate(row):
                rect = pygame.Rect(left + i * (kw + gap), keys_top + r_i * (kh + gap), kw, kh)
                pygame.draw.rect(surface, self.c.key, rect, border_radius=int(14 * u))
                pygame.draw.rect(surface, self.c.nav, rect, width=max(2, int(3 * u)), border_radius=int(14 * u))
                self.text(surface, key, self.font(min(50 * u, rect.height * 0.5), True), self.c.text, rect.center)
                targets[f"skey:{key}"] = rect
        last = keys_top + len(SEARCH_KEYS) * (kh + gap)
        space = pygame.Rect(keys.left, last, (keys.width - gap) * 2 // 3, kh)
        delete = pygame.Rect(space.right + gap, last, keys.right - space.right - gap, kh)
        self.button(surface, space, self.t.space, self.c.nav, size=40)
        self.button(surface, delete, f"⌫ {self.t.delete}", self.c.nav, size=40)
        targets["skey:space"], targets["skey:del"] = space, delete
        return targets

    def _scroller(self, surface: pygame.Surface, area: pygame.Rect, content_h: int) -> tuple[pygame.Rect, Targets]:
        """Room for scrolling content, with ▲/▼ buttons when it does not fit; sets ``scroll_limit``."""
        u = self.u
        bh = int(120 * u)
        if content_h <= area.height:
            return area, {}
        region = pygame.Rect(area.left, area.top, area.width, area.height - bh - int(20 * u))
        self.scroll_limit = max(0, content_h - region.height)
        gap = int(24 * u)
        bw = (area.width - gap) // 2
        up = pygame.Rect(area.left, area.bottom - bh, bw, bh)
        down = pygame.Rect(up.right + gap, area.bottom - bh, bw, bh)
        self.button(surface, up, self.t.scroll_up, self.c.nav, size=44)
        self.button(surface, down, self.t.scroll_down, self.c.nav, size=44)
        return region, {"scroll:up": up, "scroll:down": down}

    def _proc_list(self, surface: pygame.Surface, view: View) -> Targets:
        u = self.u
        name = next((n for c, n in view.proc_areas if view.procedures and c == view.procedures[0].area), "")
        top = self._header(surface, view, name or self.t.procedures_title)
        area = self._content(surface, top)
        if not view.procedures:
            self.text(surface, self.t.no_procedures, self.font(48 * u), self.c.muted, area.center, area.width)
            return {}
        rh, gap = int(190 * u), int(24 * u)
        region, targets = self._scroller(surface, area, len(view.procedures) * (rh + gap))
        clip = surface.get_clip()
        surface.set_clip(region)
        for i, p in enumerate(view.procedures):
            rect = pygame.Rect(region.left, region.top + i * (rh + gap) - view.scroll, region.width, rh)
            if rect.colliderect(region):
                self.button(surface, rect, p.name, self.c.tertiary, size=46)
                targets[f"proc:{p.code}"] = rect.clip(region)
        surface.set_clip(clip)
        return targets

    def _proc_detail(self, surface: pygame.Surface, view: View) -> Targets:
        u = self.u
        p = view.procedure
        top = self._header(surface, view, self.t.procedures_title)
        area = self._content(surface, top)
        if p is None:
            return {}
        label, body, title = self.font(40 * u, True), self.font(42 * u), self.font(52 * u, True)
        blocks: list[tuple[str, CachedFont, tuple[int, int, int], int]] = [
            (p.name, title, self.c.text, 0)]
        if p.documents:
            blocks.append((self.t.documents, label, self.c.tertiary, 0))
            blocks += [(f"• {doc}", body, self.c.text, int(30 * u)) for doc in p.documents]
        for name, value in ((self.t.fee, p.fee), (self.t.processing_time, p.processing_time), (self.t.where, p.where)):
            if value:
                blocks.append((name, label, self.c.tertiary, 0))
                blocks.append((value, body, self.c.text, int(30 * u)))

        def height(text: str, font: CachedFont, indent: int) -> int:
            return len(self.wrap(text, font, area.width - indent)) * int(font.size * 1.3) + int(18 * u)

        total = sum(height(*b[:2], b[3]) for b in blocks)
        region, targets = self._scroller(surface, area, total)
        clip = surface.get_clip()
        surface.set_clip(region)
        y = region.top - view.scroll
        for text, font, colour, indent in blocks:
            self.left_text(surface, text, font, colour, region.left + indent, y, region.width - indent)
            y += height(text, font, indent)
        surface.set_clip(clip)
        return targets
