"""The counter boxes and the hall board in ``motcua demo``: emulated hardware, real code paths.

Each counter gets a box whose buttons are gpiozero mock pins (what a test
presses) and whose LED matrix is luma.emulator's capture device, writing the
latest frame to ``demo-output/matrix/counter-N.png``. The hall board opens a
window when there is a display; without one it draws on SDL's dummy driver
and saves a PNG of each new call and the final board to ``demo-output/board/``.
The scripted officers press buttons with :func:`press`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from motcua.protocol import HallConfig

from .board.config import BoardScreen as BoardScreenSettings
from .board.config import BoardSettings
from .config import CounterBoxSettings, GpioKeypadSettings, MatrixSettings
from .keypads.gpio import GpioKeypad
from .service import CounterBoxService, PressOutcome

log = logging.getLogger("counter_display.demo")



def has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and \
        os.environ.get("SDL_VIDEODRIVER") != "dummy"


def start_boxes(broker, config: HallConfig, officers: dict[int, str], out: Path, site: str = "demo"
                ) -> dict[int, CounterBoxService]:
    boxes = {}
    for counter in config.counters:
        n = counter.number
        settings = CounterBoxSettings(
            site=site, device_id=f"counter-{n}", counter=n, officer=officers.get(n), log_level="WARNING",
            mqtt=broker.mqtt(f"counter-{n}", "counter", n),
            matrix=MatrixSettings(driver="capture", modules=6, capture_dir=out / "matrix", blink_count=2),
            gpio=GpioKeypadSettings(pin_factory="mock"))
        boxes[n] = CounterBoxService(settings).start()
        boxes[n].ready()
    return boxes


def press(box: CounterBoxService, token: str, timeout: float = 10.0) -> PressOutcome | None:
    """Push a button the way a finger does (pull-up pin low, then released) and wait for the outcome."""
    seq = box.presses + 1
    keypad = box.keypads[0]
    assert isinstance(keypad, GpioKeypad)  # the demo's boxes have mock pins (start_boxes)
    pin = keypad.pin(token)
    pin.drive_low()
    pin.drive_high()
    return box.wait_outcome(seq, timeout)


class DemoBoard:
    """The board's screen loop on a thread of its own (it creates the window, so it owns SDL's events)."""

    def __init__(self, broker, out: Path, site: str = "demo"):
        self.window = has_display()
        if not self.window:
            os.environ["SDL_VIDEODRIVER"] = "dummy"
        self.folder = out / "board"
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.settings = BoardSettings(site=site, device_id="board-1", mqtt=broker.mqtt("board-1", "board"),
                                      log_level="WARNING",
                                      screen=BoardScreenSettings(fullscreen=False, width=1280 if self.window else 1920,
                                                                 height=720 if self.window else 1080))
        self.stop_event = threading.Event()
        self.saved: list[Path] = []
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-board", daemon=True)

    def start(self) -> DemoBoard:
        self._thread.start()
        self._started.wait(20)
        return self

    def _run(self) -> None:
        from .board.app import BoardScreen
        from .board.model import BoardView
        from .board.service import BoardService

        demo = self

        class SavingBoardScreen(BoardScreen):
            """Without a window: a PNG of each new call shown, as it flashes."""

            last_call = None

            def drawn(self, view: BoardView) -> None:
                if not demo.window and view.calls and view.calls[0] != self.last_call and view.flash:
                    self.last_call = view.calls[0]
                    demo._save(f"call-{len(demo.saved) + 1:03}-{view.calls[0].number}.png")

        self.service = BoardService(self.settings).start()
        try:
            self.screen = SavingBoardScreen(self.service)
        except Exception as exc:  # noqa: BLE001 - a display that will not open: the demo goes on without it
            log.error("board: no screen: %s", exc)
            self._started.set()
            return
        self._started.set()
        self.screen.run(self.stop_event)

    def _save(self, name: str) -> None:
        import pygame

        path = self.folder / name
        pygame.image.save(self.screen.surface, str(path))
        self.saved.append(path)

    def stop(self) -> None:
        if not self._thread.is_alive():
            return
        if not self.window and hasattr(self, "screen"):
            time.sleep(0.2)  # the last state change reaches the screen loop
        self.stop_event.set()
        self._thread.join(timeout=10)
        if not self.window and hasattr(self, "screen"):
            self.screen.redraw(force=True)
            self._save("final.png")
        if hasattr(self, "service"):
            self.service.stop()
