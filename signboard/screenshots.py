"""``python -m signboard.screenshots DIR``: the signboard's frames as they look on the modules.

Through the real painter and luma.emulator's capture device (lit LEDs drawn as
round dots): a call on a panel of 32x2 modules with its Vietnamese marks, the
same call in ASCII on a single row of modules, and the notice.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .config import PanelSettings, SignboardSettings
from .render import SignPainter

# (file, modules per row, rows, text): a chain of 32 modules a row, as a hall's signboard has
SHOTS = [
    ("signboard-call", 32, 2, "Mời số A1023 đến quầy 5"),
    ("signboard-call-ascii", 32, 1, "Mời số A1023 đến quầy 5"),
    ("signboard-notice", 32, 2, "Hồ sơ đất đai nộp tại quầy 3, 4"),
]


def render(out: Path) -> list[Path]:
    from luma.emulator.device import capture

    out.mkdir(parents=True, exist_ok=True)
    shots = []
    for name, modules, rows, text in SHOTS:
        s = SignboardSettings(panel=PanelSettings(driver="capture", modules_per_row=modules, rows=rows))
        painter = SignPainter(s)
        shown = painter.prepare(text)
        # the moment the ribbon's first letter is 8 columns in from the left edge
        image = painter.render(shown, s.panel.width - 8)
        path = out / f"{name}.png"
        device = capture(width=s.panel.width, height=s.panel.height, mode="1", transform="led_matrix", scale=4,
                         file_template=str(path))
        device.display(image)
        shots.append(path)
    return shots


if __name__ == "__main__":
    for p in render(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/images")):
        print(p)
