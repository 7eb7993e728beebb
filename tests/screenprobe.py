"""``python tests/screenprobe.py kiosk|pad|board|resize OUTDIR [DIAGONAL_INCHES]``: one screen's docs scenario, full screen on a real X server.

Run by the tests in a subprocess (``DISPLAY`` set to an Xvfb they started):
every frame the scenario shoots is recorded three ways: the canvas the
painter drew, the X server's own picture of the whole display (what a
citizen sees), and the touch targets. Prints one JSON list.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ["SDL_VIDEODRIVER"] = "x11"
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from motcua import touchscreen  # noqa: E402

records: list[dict] = []
_screenshot = touchscreen.ScreenApp.screenshot


def screenshot(self, path: Path) -> Path:
    result = _screenshot(self, path)
    if self.display.driver == "x11":
        seen = path.with_name(path.stem + ".x11.png")
        subprocess.run(["import", "-silent", "-window", "root", str(seen)], check=True, timeout=30)
        records.append({"name": path.stem, "canvas": str(path), "x11": str(seen),
                        "size": list(self.surface.get_size()), "window": list(self.display.window.get_size()),
                        "px_per_mm": self.settings.px_per_mm(self.display.window.get_size()),
                        "targets": {k: list(r) for k, r in self.targets.items()}})
    return result


touchscreen.ScreenApp.screenshot = screenshot


def resized(out: Path, tmp: Path) -> None:
    """The pad in a window that is then resized from outside (as a hot-plug or a mode change resizes a
    full-screen one): it lays itself out again at the new size."""
    import threading
    import time

    import pygame

    from satisfaction_pad.app import PadScreen
    from satisfaction_pad.config import PadSettings
    from satisfaction_pad.screenshots import SAMPLE_STATE, sample_window
    from satisfaction_pad.service import PadService

    settings = PadSettings(device_id="pad-3", counter=3, outbox=tmp / "outbox.db",
                           screen={"fullscreen": False, "width": 1280, "height": 800})
    service = PadService(settings)
    service.counter_state(SAMPLE_STATE.model_copy(update={"rating_window": sample_window()}))
    screen = PadScreen(service)
    screen.screenshot(out / "pad-window.png")
    window = str(pygame.display.get_wm_info()["window"])
    subprocess.run(["xdotool", "windowsize", window, "800", "600"], check=True,
                   timeout=30)
    deadline, stop = time.monotonic() + 10, threading.Event()
    while screen.surface.get_size() != (800, 600) and time.monotonic() < deadline:
        screen._handle_all(screen._events(0.05), stop)
    # --sync: xdotool returns once the X server reports the window at its new place (at once if it is there)
    subprocess.run(["xdotool", "windowmove", "--sync", window, "0", "0"], check=True, timeout=30)
    screen._handle_all(screen._events(0.05), stop)
    screen.redraw(force=True)
    pygame.event.pump()
    screen.screenshot(out / "pad-resized.png")


def main(app: str, out: Path, diagonal_in: float | None = None) -> None:
    tmp = Path(tempfile.mkdtemp())
    screen = {"diagonal_in": diagonal_in} if diagonal_in else {}
    if app == "resize":
        resized(out, tmp)
    elif app == "kiosk":
        from kiosk_ticket.config import KioskSettings
        from kiosk_ticket.screenshots import render_all

        render_all(out, KioskSettings(device_id="kiosk-1", timeouts={"debounce_ms": 0}, screen=screen,
                                      printer={"counter_file": tmp / "printed.json"}), landscape=False)
    elif app == "pad":
        from satisfaction_pad.config import PadSettings
        from satisfaction_pad.screenshots import render_all

        render_all(out, PadSettings(device_id="pad-3", counter=3, debounce_ms=0, outbox=tmp / "outbox.db",
                                    screen=screen))
    else:
        from counter_display.board.config import BoardSettings
        from counter_display.screenshots import render_board

        render_board(out, BoardSettings(device_id="board-1", screen=screen))
    print(json.dumps(records))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), float(sys.argv[3]) if len(sys.argv) > 3 else None)
