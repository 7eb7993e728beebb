"""luma's legacy 8-pixel bitmap fonts, by name, as every LED display of the hall uses them.

Shared by the counter boxes and the LED signboard. Two things are ours: a name
for each font ("cp437", "tiny", ... with "_proportional" dropping each glyph's
blank columns), and a plain zero. luma's CP437, LCD, Sinclair and Speccy fonts
draw a slashed zero: a citizen reads "1023" with a struck-through 0 as a letter
or a mistake. These fonts have no Vietnamese diacritics: text for them is ASCII.
"""

from __future__ import annotations

from luma.core.legacy import font as legacy_fonts

FONT_NAMES = ("cp437", "lcd", "sinclair", "tiny", "seg7", "atari", "speccy")

# Plain zeros, as column bytes with the least significant bit at the top (luma's layout), keeping each
# font's own width and weight.
_PLAIN_ZEROS = {
    "cp437": [0x3E, 0x7F, 0x41, 0x41, 0x41, 0x7F, 0x3E, 0x00],
    "lcd": [0x3E, 0x41, 0x41, 0x41, 0x3E, 0x00, 0x00, 0x00],
    "sinclair": [0x3C, 0x42, 0x42, 0x42, 0x42, 0x3C, 0x00, 0x00],
    "speccy": [0x00, 0x3C, 0x42, 0x42, 0x42, 0x42, 0x3C, 0x00],
}


def _plain_zero(name: str, font):
    if name not in _PLAIN_ZEROS:
        return font
    glyphs = [list(g) for g in font]
    glyphs[ord("0")] = list(_PLAIN_ZEROS[name])
    return glyphs


_FONTS = {name: _plain_zero(name, font) for name, font in {
    "cp437": legacy_fonts.CP437_FONT,
    "lcd": legacy_fonts.LCD_FONT,
    "sinclair": legacy_fonts.SINCLAIR_FONT,
    "tiny": legacy_fonts.TINY_FONT,
    "seg7": legacy_fonts.SEG7_FONT,
    "atari": legacy_fonts.ATARI_FONT,
    "speccy": legacy_fonts.SPECCY_FONT,
}.items()}


def check_font_name(name: str) -> str:
    if name.removesuffix("_proportional") not in FONT_NAMES:
        raise ValueError(f"unknown font {name!r}: one of {', '.join(FONT_NAMES)}, optionally + '_proportional'")
    return name


def legacy_font(name: str):
    """The font called ``name`` (see :data:`FONT_NAMES`, optionally + ``_proportional``)."""
    base = _FONTS[name.removesuffix("_proportional")]
    return legacy_fonts.proportional(base) if name.endswith("_proportional") else base


def ascii_art(image, on: str = "#", off: str = ".") -> str:
    """A 1-bit frame as text, one line per LED row: what a test compares and a person can read."""
    image = image.convert("1")
    w, h = image.size
    px = image.load()
    return "\n".join("".join(on if px[x, y] else off for x in range(w)) for y in range(h))
