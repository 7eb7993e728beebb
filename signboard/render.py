"""Text into LED pixels: a ribbon image per text, and the panel's window onto it at a scroll offset.

Pure (PIL only): no device, no threads. On a panel of 16 rows or more the
text is drawn with a TrueType font (DejaVu Sans Bold covers Vietnamese) at the
largest size whose stacked marks (ố, ộ) and descenders still fit, without
anti-aliasing (an LED is on or off: FreeType's monochrome rendering is crisper
than a threshold); on an 8-row panel with luma's 8-pixel bitmap fonts, in ASCII.
"""

from __future__ import annotations

from functools import lru_cache

from luma.core.legacy import text as legacy_text
from luma.core.legacy import textsize
from PIL import Image, ImageDraw, ImageFont

from motcua.ledfonts import ascii_art, legacy_font  # noqa: F401 - ascii_art: for tests and tools
from motcua.wording import to_ascii

from .config import DIACRITICS_MIN_HEIGHT, SignboardSettings

# What the font size must fit between the panel's top and bottom rows: the stacked marks of lower-case
# letters (ố, ộ, ữ) and the descenders. A capital with a mark above (Ấ) may lose its mark's top row:
# sizing for it would shrink every letter by a quarter, and calls and notices are mostly lower case.
_TALLEST_WITH_MARKS = "Mốộữgjpy"
_TALLEST_ASCII = "AMjgpqy"


class SignPainter:
    def __init__(self, settings: SignboardSettings):
        self.s = settings
        self.width, self.height = settings.panel.width, settings.panel.height
        self.marks = settings.with_marks
        self._ttf: ImageFont.FreeTypeFont | None = None
        self._ttf_top = 0
        if self.height >= DIACRITICS_MIN_HEIGHT:
            self._ttf, self._ttf_top = _fitted_font(str(settings.font), self.height,
                                                    _TALLEST_WITH_MARKS if self.marks else _TALLEST_ASCII)
        else:
            self._legacy = legacy_font(settings.small_font)
        self.ribbon = lru_cache(maxsize=16)(self._ribbon)

    def prepare(self, text: str) -> str:
        """The text as this panel can show it: with its marks, or ASCII."""
        text = " ".join(text.split())
        return text if self.marks and self._ttf is not None else to_ascii(text)

    def measure(self, text: str) -> int:
        """Width in LED columns of ``text`` (already prepared)."""
        return self.ribbon(text).width

    def _ribbon(self, text: str) -> Image.Image:
        if self._ttf is not None:
            width = max(1, int(round(self._ttf.getlength(text))) + 1)
            image = Image.new("1", (width, self.height))
            draw = ImageDraw.Draw(image)
            draw.fontmode = "1"  # no anti-aliasing
            draw.text((0, -self._ttf_top), text, font=self._ttf, fill=1)
            return image
        width = max(1, textsize(text, font=self._legacy)[0])
        image = Image.new("1", (width, self.height))
        legacy_text(ImageDraw.Draw(image), (0, (self.height - 8) // 2), text, fill="white", font=self._legacy)
        return image

    def render(self, text: str, offset: int) -> Image.Image:
        """The panel when the ribbon of ``text`` has moved ``offset`` columns in from the right edge:
        offset 0 is a blank panel, offset = panel width puts the first letter at the left edge."""
        image = Image.new("1", (self.width, self.height))
        if text:
            image.paste(self.ribbon(text), (self.width - offset, 0))
        return image


def _fitted_font(path: str, height: int, sample: str) -> tuple[ImageFont.FreeTypeFont, int]:
    """The largest size of the font at ``path`` whose ``sample`` spans at most ``height`` rows, and the
    row its top starts at (to draw it flush with the panel's top)."""
    size = height * 2
    while size > 6:
        font = ImageFont.truetype(path, size)
        top, bottom = font.getbbox(sample)[1::2]
        if bottom - top <= height:
            return font, int(top)
        size -= 1
    font = ImageFont.truetype(path, 6)
    return font, int(font.getbbox(sample)[1])
