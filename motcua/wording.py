"""Small rules for what citizens read, shared by every screen and printer.

Pure functions, no settings of their own: each daemon passes the phrases from
its settings, so a hall can reword them while the rules stay the same.
"""

from __future__ import annotations

import unicodedata


def wait_phrase(minutes: float, about: str, under: str, floor_min: int) -> str:
    """An estimated or average wait a citizen can trust: never "0 minutes".

    Below ``floor_min`` minutes (a queue with nobody ahead, an estimate of a
    few seconds) the phrase is ``under`` with ``{n}`` = ``floor_min``
    ("dưới 5 phút"); from there on ``about`` with the rounded minutes
    ("khoảng 12 phút").
    """
    n = round(max(0.0, float(minutes)))
    if n < floor_min:
        return under.format(n=floor_min)
    return about.format(n=n)


_ASCII_EXTRA = str.maketrans({"đ": "d", "Đ": "D", "–": "-", "—": "-", "«": '"', "»": '"', "“": '"', "”": '"',
                              "‘": "'", "’": "'", "…": "...", "·": "-", "→": ">"})


def to_ascii(text: str) -> str:
    """Vietnamese without its diacritics, for displays whose fonts have none: "Mời số" -> "Moi so".

    Tone and vowel marks are dropped (NFD, combining marks removed), đ becomes d,
    common typographic signs become their ASCII look-alikes; anything else outside
    printable ASCII becomes "?" so that no display is handed a glyph it lacks.
    """
    decomposed = unicodedata.normalize("NFD", text.translate(_ASCII_EXTRA))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if 32 <= ord(c) < 127 else (" " if c in "\r\n\t" else "?") for c in bare)
