"""The one settings model every screen shares (kiosk, pad, board): size hint, rotation, fonts, frame budget.

No pygame here: the settings load and validate before any display is opened.
Each daemon subclasses :class:`ScreenSettings` only to set its own size hint
and add its own colours.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from .settings import StrictModel

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DEJAVU_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")

Colour = tuple[int, int, int]


class ScreenSettings(StrictModel):
    """How a screen meets its display.

    Full screen (the default on a box) takes the display's own size and orientation, whatever the
    hall bought; ``width``/``height`` are only the window size of a windowed run (a technician's
    laptop, the demo). ``rotation`` turns the picture for a panel mounted sideways or upside down.
    """

    width: int = Field(1280, ge=320, le=7680, description="Window width of a windowed run (not used full screen).")
    height: int = Field(800, ge=240, le=7680, description="Window height of a windowed run (not used full screen).")
    fullscreen: bool = Field(True, description="Fill the attached display at its own size.")
    rotation: Literal[0, 90, 180, 270] = Field(
        0, description="Degrees the picture is turned clockwise on the panel: 90 or 270 for a panel mounted sideways.")
    diagonal_in: float = Field(
        21.5, ge=3, le=120, description="The panel's diagonal in inches: touch targets are sized in millimetres from it.")
    max_fps: int = Field(25, ge=1, le=60, description="At most this many frames a second (animations, bursts of changes).")
    font: Path = DEJAVU
    bold_font: Path = DEJAVU_BOLD

    def px_per_mm(self, size: tuple[int, int]) -> float:
        """Pixels per millimetre on a display of ``size`` pixels with this diagonal."""
        w, h = size
        return (w * w + h * h) ** 0.5 / (self.diagonal_in * 25.4)
