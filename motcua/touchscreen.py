"""What every screen shares (kiosk, pad, board): the display, the drawing budget, the loop, taps.

* :class:`Display` opens whatever display is attached at its own size (full
  screen) or the configured window size, turns the picture for a panel
  mounted sideways, reopens when the display changes, and presents only the
  rectangles that changed. Under X11 it asks SDL for its plain shared-memory
  framebuffer: SDL's default there goes through OpenGL, which under a software
  renderer costs several times the CPU and ~100 MiB more memory.
* :class:`Fonts` keeps every rendering of text: the same words in the same
  colour are laid out and rasterised once, then blitted.
* :class:`ScreenApp` is the loop: it draws only when the view changed (or an
  animation is due, at most ``screen.max_fps``), otherwise it sleeps until a
  touch (looked for every ``input_poll_s``), a change from MQTT, the
  service's next deadline, or a stop request (within ``STOP_CHECK_S``).
* :class:`TouchScreenApp` adds taps: a press lands on the target under it.

A painter is ``draw(surface, view) -> {target: Rect}``: it lays itself out from
the surface's size, so the targets are data a test can check against the screen.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import cast

import pygame
import pygame.freetype

from .screen_settings import ScreenSettings

log = logging.getLogger("motcua.screen")

HEADLESS = frozenset({"dummy", "offscreen"})
STOP_CHECK_S = 0.25  # SIGTERM is noticed within this
DISPLAY_CHECK_S = 2.0  # a full-screen display whose size changed (another TV, another mode) is noticed within this
MAX_DIRTY_RECTS = 16
RESIZED = frozenset(e for e in (getattr(pygame, "VIDEORESIZE", None), getattr(pygame, "WINDOWSIZECHANGED", None),
                                getattr(pygame, "WINDOWDISPLAYCHANGED", None),
                                getattr(pygame, "RENDER_DEVICE_RESET", None)) if e is not None)
EXPOSED = frozenset(e for e in (getattr(pygame, "VIDEOEXPOSE", None), getattr(pygame, "WINDOWEXPOSED", None),
                                getattr(pygame, "RENDER_TARGETS_RESET", None)) if e is not None)
Targets = dict[str, pygame.Rect]


# ---------------------------------------------------------------------------------------------- text


def wrap_words(text: str, font: CachedFont | pygame.freetype.Font, width: int) -> list[str]:
    """``text`` on lines no wider than ``width`` px, broken between words (a word wider than that stands alone
    on its line); no lines for no words."""
    lines, current = [], ""
    for word in text.split():
        trial = f"{current} {word}" if current else word
        if current and font.get_rect(trial).width > width:
            lines.append(current)
            current = word
        else:
            current = trial
    return lines + [current] if current else lines


class CachedFont:
    """A freetype font whose layouts and renderings are kept (same words, same colour: blitted, not redrawn)."""

    def __init__(self, font: pygame.freetype.Font, book: Fonts):
        self._font = font
        self._book = book
        self.size = int(font.size)  # type: ignore[arg-type]  # a size we set: one number, never (w, h)
        self._key = (font.path, self.size)

    def get_rect(self, text: str) -> pygame.Rect:
        key = ("rect", self._key, text)
        rect = self._book.get(key)
        if rect is None:
            rect = self._book.put(key, self._font.get_rect(text))
        return rect.copy()

    def get_sized_height(self) -> int:
        return self._font.get_sized_height(0)  # 0: the font's own size

    def image(self, text: str, colour, background=None) -> pygame.Surface:
        key = ("img", self._key, text, tuple(colour), None if background is None else tuple(background))
        img = self._book.get(key)
        if img is None:
            img, _ = self._font.render(text, colour, background)
            if pygame.display.get_surface() is not None:  # blits in the display's own pixel format are cheapest
                img = img.convert() if background is not None else img.convert_alpha()
            self._book.put(key, img)
        return img

    def render_to(self, surface: pygame.Surface, dest, text: str, colour, background=None,
                  keep: bool = True) -> pygame.Rect:
        """Like ``freetype.Font.render_to``: the text's bounding box with its top-left at ``dest``.

        ``keep=False`` for words shown once (a ticket's number at 300 pt is about 1 MB of pixels, and a day
        of numbers kept would push every reused label out of the cache): drawn straight onto ``surface``."""
        if not text:
            return pygame.Rect(dest[0], dest[1], 0, 0)
        x, y = (dest.x, dest.y) if isinstance(dest, pygame.Rect) else (int(dest[0]), int(dest[1]))
        if not keep:
            return self._font.render_to(surface, (x, y), text, colour, background)
        return surface.blit(self.image(text, colour, background), (x, y))


class Fonts:
    """The two faces of a screen at every size asked for, with one bounded cache of their renderings."""

    def __init__(self, screen: ScreenSettings, max_items: int = 1500, max_bytes: int = 24 << 20):
        pygame.freetype.init()
        self.paths = {False: str(screen.font), True: str(screen.bold_font)}
        self._fonts: dict[tuple[bool, int], CachedFont] = {}
        self._cache: OrderedDict[tuple, object] = OrderedDict()
        self.max_items = max_items
        # bounded by pixels too: a kiosk renders every new ticket number at 300 pt (about 1 MB each), and
        # 1500 of those kept by count alone grew the kiosk to ~500 MiB over a day's numbers
        self.max_bytes = max_bytes
        self.bytes = 0

    def __call__(self, size: float, bold: bool = False) -> CachedFont:
        key = (bold, max(8, int(size)))
        font = self._fonts.get(key)
        if font is None:
            font = self._fonts[key] = CachedFont(pygame.freetype.Font(self.paths[bold], key[1]), self)
        return font

    def get(self, key: tuple):
        item = self._cache.get(key)
        if item is not None:
            self._cache.move_to_end(key)
        return item

    @staticmethod
    def _bytes(item) -> int:
        return item.get_bytesize() * item.get_width() * item.get_height() if isinstance(item, pygame.Surface) else 64

    def put(self, key: tuple, item):
        old = self._cache.pop(key, None)
        if old is not None:
            self.bytes -= self._bytes(old)
        self._cache[key] = item
        self.bytes += self._bytes(item)
        while len(self._cache) > 1 and (len(self._cache) > self.max_items or self.bytes > self.max_bytes):
            _, dropped = self._cache.popitem(last=False)
            self.bytes -= self._bytes(dropped)
        return item

    def clear(self) -> None:
        """Forget renderings (after the display's pixel format changed)."""
        self._cache.clear()
        self.bytes = 0


def antialiased(size: tuple[int, int], draw, scale: int = 4) -> pygame.Surface:
    """A transparent picture of ``size`` drawn by ``draw(surface, scale)`` at ``scale`` times the size, then
    smoothly scaled down: round shapes and thick curves come out antialiased, without pixel gaps."""
    big = pygame.Surface((size[0] * scale, size[1] * scale), pygame.SRCALPHA)
    draw(big, scale)
    small = pygame.transform.smoothscale(big, size)
    return small.convert_alpha() if pygame.display.get_surface() is not None else small


# ---------------------------------------------------------------------------------------------- display


def changed_rects(before: pygame.Surface, after: pygame.Surface) -> list[pygame.Rect]:
    """The rectangles where ``after`` differs from ``before`` (few and coarse: many small ones are merged)."""
    same = pygame.mask.from_threshold(after, (0, 0, 0, 0), (1, 1, 1, 255), before)
    same.invert()
    # pygame's stubs say Rect; the call returns a list of them
    rects = cast("list[pygame.Rect]", same.get_bounding_rects())
    if len(rects) > MAX_DIRTY_RECTS:
        return [rects[0].unionall(rects[1:])]
    return rects


class Display:
    """The picture on the attached display: its real size and orientation, and presenting what changed.

    The painters draw on :attr:`canvas` (upright, the size they must fill); with a rotated panel the
    canvas is turned onto the window when presented, and touches are turned back.
    """

    def __init__(self, screen: ScreenSettings, caption: str = "motcua", surface: pygame.Surface | None = None):
        self.s = screen
        self.caption = caption
        self._given = surface  # tests and screenshots draw on a plain surface
        self.driver = "surface"
        self.window: pygame.Surface
        self.canvas: pygame.Surface
        self._checked = time.monotonic()
        self.resized_to: tuple[int, int] | None = None  # the size a windowed run was resized to
        self.open()

    @property
    def size(self) -> tuple[int, int]:
        return self.canvas.get_size()

    def open(self, window_size: tuple[int, int] | None = None) -> None:
        """Open (or reopen) the window: full screen at the display's size, else ``window_size`` or the
        configured size (a windowed run can be resized, and is laid out again at its new size)."""
        if self._given is not None:
            self.window = self._given
        else:
            pygame.display.init()
            self.driver = pygame.display.get_driver()
            if self.driver == "x11":  # before the window's framebuffer exists; see the module's docstring
                os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
            headless = self.driver in HEADLESS
            if self.s.fullscreen and not headless:
                self.window = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)  # the display's own size
            else:
                size = window_size or (self.s.width, self.s.height)
                self.window = pygame.display.set_mode(size, 0 if headless else pygame.RESIZABLE)
            pygame.display.set_caption(self.caption)
            pygame.mouse.set_visible(not self.s.fullscreen or headless)
        w, h = self.window.get_size()
        r = self.s.rotation
        if r == 0:
            self.canvas = self.window
        else:
            self.canvas = pygame.Surface((h, w) if r in (90, 270) else (w, h), 0, self.window)
        log.info("screen %dx%d on %s (%s, rotation %d)", *self.canvas.get_size(), self.driver,
                 "full screen" if self.s.fullscreen else "window", r)

    def display_changed(self, event: pygame.event.Event | None = None) -> bool:
        """Whether the display under a full-screen window changed size (hot-plug, mode change)."""
        if self._given is not None:
            return False
        if event is not None:
            if event.type not in RESIZED:
                return False
            if event.type == getattr(pygame, "RENDER_DEVICE_RESET", None):
                return True
            if not self.s.fullscreen and event.type == pygame.VIDEORESIZE:
                self.resized_to = (event.w, event.h)
                return self.resized_to != self.window.get_size()
            if not self.s.fullscreen and event.type == getattr(pygame, "WINDOWSIZECHANGED", None):
                self.resized_to = (event.x, event.y)
                return self.resized_to != self.window.get_size()
            return self.s.fullscreen and self._desktop() not in (None, self.window.get_size())
        now = time.monotonic()
        if not self.s.fullscreen or self.driver in HEADLESS or now - self._checked < DISPLAY_CHECK_S:
            return False
        self._checked = now
        return self._desktop() not in (None, self.window.get_size())

    @staticmethod
    def _desktop() -> tuple[int, int] | None:
        try:
            width, height = pygame.display.get_desktop_sizes()[0]
            return width, height
        except (pygame.error, IndexError):
            return None

    def present(self, rects: Iterable[pygame.Rect] | None = None) -> None:
        """Show the canvas: all of it (``rects`` None) or only ``rects``."""
        if self._given is not None:
            return
        r = self.s.rotation
        if r == 0:
            if rects is None:
                pygame.display.flip()
            else:
                pygame.display.update(list(rects))
            return
        if rects is None:
            self.window.blit(pygame.transform.rotate(self.canvas, -r), (0, 0))
            pygame.display.flip()
            return
        shown = []
        for rect in rects:
            rect = rect.clip(self.canvas.get_rect())
            if rect.width and rect.height:
                target = self.to_window(rect)
                self.window.blit(pygame.transform.rotate(self.canvas.subsurface(rect), -r), target.topleft)
                shown.append(target)
        pygame.display.update(shown)

    def to_window(self, rect: pygame.Rect) -> pygame.Rect:
        """Where a canvas rectangle lands on the (rotated) panel."""
        cw, ch = self.canvas.get_size()
        r = self.s.rotation
        if r == 90:
            return pygame.Rect(ch - rect.bottom, rect.x, rect.height, rect.width)
        if r == 270:
            return pygame.Rect(rect.y, cw - rect.right, rect.height, rect.width)
        if r == 180:
            return pygame.Rect(cw - rect.right, ch - rect.bottom, rect.width, rect.height)
        return pygame.Rect(rect)

    def to_canvas(self, pos: tuple[float, float]) -> tuple[int, int]:
        """Where a point on the panel (a touch) is on the upright canvas."""
        cw, ch = self.canvas.get_size()
        x, y = pos
        r = self.s.rotation
        if r == 90:
            x, y = y, ch - x
        elif r == 270:
            x, y = cw - y, x
        elif r == 180:
            x, y = cw - x, ch - y
        return min(max(int(x), 0), cw - 1), min(max(int(y), 0), ch - 1)

    def touch_position(self, event: pygame.event.Event) -> tuple[int, int]:
        if event.type in (pygame.FINGERDOWN, pygame.FINGERUP, pygame.FINGERMOTION):
            w, h = self.window.get_size()  # touch coordinates are normalised to 0..1 of the panel
            return self.to_canvas((event.x * w, event.y * h))
        return self.to_canvas(event.pos)


# ---------------------------------------------------------------------------------------------- the loop


class ScreenApp:
    """A service's screen: draw what changed, animate within the frame budget, sleep otherwise.

    The service is a :class:`motcua.screen_service.ScreenService`; the painter draws a view and
    returns its touch targets. Subclasses handle input (:meth:`handle`) and animations (:meth:`animate`).
    """

    input_poll_s = 0.02  # with a polling SDL driver (kmsdrm): how often touches are looked for

    def __init__(self, service, painter, surface: pygame.Surface | None = None):
        self.service = service
        self.settings = service.settings.screen
        self.display = Display(self.settings, f"motcua – {service.settings.device_id}", surface)
        self.painter = painter
        self.targets: Targets = {}
        self.frames = 0  # whole views drawn
        self.partial_frames = 0  # animation steps and small changes presented as rectangles
        self._drawn = None
        self._shown: pygame.Surface | None = None  # what is on the display, to present only what changed
        self._presented = 0.0
        self._wake = threading.Event()
        # called on the service's threads: only wake the screen thread, which draws
        service.on_view_change = self._view_changed

    @property
    def surface(self) -> pygame.Surface:
        return self.display.canvas

    def _view_changed(self, view=None) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ drawing

    def redraw(self, force: bool = False) -> bool:
        """Draw the view if it changed (or ``force``); else step an animation. Returns whether the view was drawn."""
        view = self.service.view
        if view == self._drawn and not force:
            rects = self.animate()
            if rects:
                self.display.present(rects)
                self.partial_frames += 1
            return False
        rects = None if force or self._drawn is None else self.draw_change(self._drawn, view)
        if rects is None:
            self.targets = self.painter.draw(self.surface, view) or {}
            self.animate(restart=True)  # an animation's first step belongs to the new frame
            rects = None if self._shown is None or force else changed_rects(self._shown, self.surface)
            self.frames += 1
        else:
            self.partial_frames += 1
        self.display.present(rects)
        self._keep_shown(rects)
        self._drawn = view
        self._presented = time.monotonic()
        self.drawn(view)
        return True

    def _keep_shown(self, rects: list[pygame.Rect] | None) -> None:
        if self._shown is None or self._shown.get_size() != self.surface.get_size() or rects is None:
            self._shown = self.surface.copy()
        else:
            for rect in rects:
                self._shown.blit(self.surface, rect, rect)

    def draw_change(self, before, after) -> list[pygame.Rect] | None:
        """Draw only what differs between two views and return its rectangles; None: draw the whole view."""
        return None

    def animate(self, restart: bool = False) -> list[pygame.Rect] | None:
        """Step a running animation; return the rectangles it changed (None: nothing animates)."""
        return None

    def animation_due(self) -> float | None:
        """When the next animation step is due (monotonic), or None."""
        return None

    def drawn(self, view) -> None:
        """Hook after each view is drawn."""

    def reopen(self) -> None:
        """The display changed under us: take its new size and lay everything out again."""
        self.display.open(None if self.settings.fullscreen else self.display.resized_to)
        fonts = getattr(self.painter, "fonts", None)
        if fonts is not None:
            fonts.clear()
        self._shown = None
        self.redraw(force=True)

    # ------------------------------------------------------------------ input

    def handle(self, event: pygame.event.Event) -> None:
        """One input event (subclasses: touches, keys)."""

    def _handle_all(self, events: Iterable[pygame.event.Event], stop: threading.Event) -> None:
        reopen = expose = False
        for event in events:
            if event.type == pygame.QUIT:
                stop.set()
            elif self.display.display_changed(event):
                reopen = True
            elif event.type in EXPOSED:
                expose = True
            else:
                self.handle(event)
        if reopen or self.display.display_changed():
            self.reopen()
        elif expose:
            self.redraw(force=True)

    def _events(self, timeout: float) -> list[pygame.event.Event]:
        """Sleep until input, a change from another thread, or ``timeout`` seconds; return the input.

        Not pygame's ``event.wait(timeout)``: it polls SDL every millisecond whatever the driver (≈3 % of a
        core doing nothing). The loop sleeps in Python, woken at once by changes from other threads, and looks
        at the input queue every ``input_poll_s``."""
        end = time.monotonic() + timeout
        while True:
            events = pygame.event.get()
            remaining = end - time.monotonic()
            if events or remaining <= 0 or self._wake.is_set():
                return events
            self._wake.wait(min(remaining, self.input_poll_s))

    # ------------------------------------------------------------------ the loop

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
        frame_s = 1 / self.settings.max_fps
        while not stop.is_set():
            now = time.monotonic()
            due = [now + STOP_CHECK_S]
            deadline = self.service.next_deadline()
            if deadline is not None:
                due.append(deadline)
            animation = self.animation_due()
            if animation is not None:
                due.append(animation)
            if self._wake.is_set():  # a change waits: show it, but not faster than the frame budget
                due.append(self._presented + frame_s)
            self._wake.clear()
            events = self._events(max(0.0, min(due) - now))
            self._handle_all(events, stop)
            self.service.tick()
            if time.monotonic() - self._presented >= frame_s or events:
                self.redraw()
            else:
                self._wake.set()  # drawn on the next turn, within the budget
            self.service.screen_beat = time.monotonic()  # the watchdog sees a frozen screen loop

    def screenshot(self, path: Path) -> Path:
        """The canvas as the painters drew it (upright), as a PNG."""
        self.redraw()
        path.parent.mkdir(parents=True, exist_ok=True)
        pygame.image.save(self.surface, str(path))
        return path


class TouchScreenApp(ScreenApp):
    """The loop plus taps: a press lands on the target under it."""

    def position(self, event: pygame.event.Event) -> tuple[int, int]:
        return self.display.touch_position(event)

    def hit(self, pos: tuple[int, int]) -> str | None:
        return next((name for name, rect in self.targets.items() if rect.collidepoint(pos)), None)

    def handle(self, event: pygame.event.Event) -> None:
        """A press is a tap where it lands; subclasses with scrolling lists override this."""
        if event.type == pygame.FINGERDOWN or (event.type == pygame.MOUSEBUTTONDOWN and event.button == 1):
            self.handle_point(self.position(event))

    def handle_point(self, pos: tuple[int, int]) -> None:
        target = self.hit(pos)
        if target:
            self.service.tap(target)


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
        service.runtime.ready(f"{what}: screen {w}x{h} ({screen.display.driver})")
        try:
            screen.run(stop)
        finally:
            pygame.display.quit()
