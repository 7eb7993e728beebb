"""What the LED matrix shows, as pure functions of (content, time): no device, no threads.

A :class:`Content` says what should be up (a text, whether it is a fresh call
that blinks, whether the offline marker is on). A :class:`MatrixPainter`
turns a content and a moment into a 1-bit PIL image the size of the matrix
and says when that image will next change, so the display thread can sleep
until then instead of polling. Fonts are luma's legacy 8-pixel bitmap fonts:
the first configured font in which the text fits is used; only when none fits
does the text scroll.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from luma.core.legacy import text as legacy_text
from luma.core.legacy import textsize
from PIL import Image, ImageDraw

from motcua.ledfonts import ascii_art, legacy_font  # noqa: F401 - ascii_art: part of this module's API

from .config import BrightnessStep, MatrixSettings

@dataclass(frozen=True)
class Content:
    """What should be on the matrix. ``blink_from`` is set (monotonic seconds) for a call to blink."""

    text: str
    blink_from: float | None = None
    marker: bool = False


@dataclass(frozen=True)
class Frame:
    """One distinct picture: equal frames need no redraw."""

    text: str
    font: str
    visible: bool
    offset: int  # scroll position in columns, 0 when the text fits
    marker: bool


class MatrixPainter:
    def __init__(self, settings: MatrixSettings):
        self.s = settings
        self.width, self.height = settings.width, settings.height
        self._fonts = [(name, legacy_font(name)) for name in settings.fonts]

    # ------------------------------------------------------------------ layout

    def fit(self, text: str) -> tuple[str, int, bool]:
        """(font name, text width, scrolls): the first font the text fits in, else a scroll in the first."""
        for name, font in self._fonts:
            w = _width(text, font)
            if w <= self.width:
                return name, w, False
        name, font = self._fonts[0]
        return name, _width(text, font), True

    # ------------------------------------------------------------------ time

    def frame(self, content: Content, now: float) -> Frame:
        font, width, scrolls = self.fit(content.text)
        visible, offset = True, 0
        if content.blink_from is not None:
            elapsed_ms = (now - content.blink_from) * 1000
            period = self.s.blink_on_ms + self.s.blink_off_ms
            if 0 <= elapsed_ms < period * self.s.blink_count:
                visible = elapsed_ms % period < self.s.blink_on_ms
        if scrolls:
            cycle = width + self.s.scroll_gap
            start = content.blink_from if content.blink_from is not None else 0.0
            offset = int((now - start) * 1000 // self.s.scroll_step_ms) % cycle
        return Frame(content.text, font, visible, offset, content.marker)

    def next_change(self, content: Content, now: float) -> float | None:
        """The monotonic time at which ``frame`` next differs, or None while the picture holds."""
        candidates = []
        if content.blink_from is not None:
            elapsed_ms = (now - content.blink_from) * 1000
            period = self.s.blink_on_ms + self.s.blink_off_ms
            if elapsed_ms < period * self.s.blink_count:
                into = elapsed_ms % period
                edge = self.s.blink_on_ms if into < self.s.blink_on_ms else period
                candidates.append(now + (edge - into) / 1000)
        if self.fit(content.text)[2]:
            step = self.s.scroll_step_ms / 1000
            start = content.blink_from if content.blink_from is not None else 0.0
            candidates.append(start + ((now - start) // step + 1) * step)
        return min(candidates) if candidates else None

    # ------------------------------------------------------------------ pixels

    def render(self, frame: Frame) -> Image.Image:
        image = Image.new("1", (self.width, self.height))
        draw = ImageDraw.Draw(image)
        if frame.visible and frame.text:
            font = legacy_font(frame.font)
            w = _width(frame.text, font)
            if w <= self.width:
                legacy_text(draw, ((self.width - w) // 2, 0), frame.text, fill="white", font=font)
            else:  # the text, then a gap, then the text again: an endless ribbon
                cycle = w + self.s.scroll_gap
                legacy_text(draw, (-frame.offset, 0), frame.text, fill="white", font=font)
                legacy_text(draw, (cycle - frame.offset, 0), frame.text, fill="white", font=font)
        if frame.marker:
            self._marker(draw)
        return image

    def _marker(self, draw: ImageDraw.ImageDraw) -> None:
        bottom = self.height - 1
        if self.s.offline_marker == "dots":
            # the bottom row is the fonts' descender row, empty under digits and capitals
            draw.line([(0, bottom), (self.width - 1, bottom)], fill="black")
            for x in range(0, self.width, 2):
                draw.point((x, bottom), fill="white")
        else:
            draw.rectangle([(self.width - 3, bottom - 2), (self.width - 1, bottom)], fill="black")
            draw.rectangle([(self.width - 2, bottom - 1), (self.width - 1, bottom)], fill="white")


def _width(text: str, font) -> int:
    return textsize(text, font=font)[0] if text else 0


def brightness_at(steps: list[BrightnessStep], default: int, when: datetime, zone: str) -> int:
    """The level of the last step started at or before ``when`` (local time); before the first step of the
    day, the last step of the previous evening still holds."""
    if not steps:
        return default
    local = when.astimezone(ZoneInfo(zone)).time()
    current = steps[-1].level
    for step in steps:
        if step.start <= local:
            current = step.level
    return current
